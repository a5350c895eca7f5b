// Package repositories keeps one engine per configured Git repository and
// answers which engine serves a namespace. It reloads the configuration
// file when it changes, keeping the engines whose settings did not change,
// so requests in flight are never dropped.
package repositories

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/config"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
	"github.com/gitgate-dev/gitgate/pkg/receiver"
)

// SecretReader returns the data of a Secret.
type SecretReader func(ctx context.Context, namespace, name string) (map[string][]byte, error)

// Options configure a Manager.
type Options struct {
	// ConfigPath is the configuration file.
	ConfigPath string
	// Secrets reads credentials Secrets.
	Secrets SecretReader
	// ReloadInterval is how often the file is checked; default 2s.
	ReloadInterval time.Duration
	// SecretResync is how often credentials Secrets are read again, so
	// that a rotated Secret takes effect; default 1m.
	SecretResync time.Duration
	// GitTimeout bounds each fetch and push; default gitstore.DefaultTimeout.
	GitTimeout time.Duration
	// RetryAfter is the hint a 503 gives when Git is unreachable; default 1s.
	RetryAfter time.Duration
	// ApprovalKey seals the commits approvals rely on (engine.Options).
	ApprovalKey []byte
	// ObserveGit, when set, returns the Git operation observer of a repository.
	ObserveGit func(repository string) func(operation string, took time.Duration, err error)
	// Follow, when set, runs beside each repository's engine for as long
	// as that engine serves, for example to ask Flux to reconcile after
	// every commit.
	Follow func(ctx context.Context, repository string, e *engine.Engine)
	// Health, when set, measures spec.promotionPolicy.minSoak for every
	// engine.
	Health engine.HealthClock
}

// Manager owns the engines.
type Manager struct {
	opts     Options
	mu       sync.Mutex // serializes reloads
	bindings atomic.Pointer[bindings]
	// lastSecretRead is when reload last read the credentials Secrets.
	lastSecretRead time.Time
}

type bindings struct {
	raw         []byte
	rejected    []byte                 // the last file refused, so it is reported once
	repos       map[string]*repository // by name
	byNamespace map[string]*repository
	// failed holds the repositories whose Secrets could not be used on
	// the last reload, with the error (never key material).
	failed map[string]string
}

type repository struct {
	cfg    config.Repository
	key    [32]byte // settings and credentials: a change makes a new engine
	engine *engine.Engine
	stop   context.CancelFunc
	// webhookToken authenticates push notifications (the Secret's
	// webhookToken key); empty disables them.
	webhookToken []byte
}

// New makes a manager; Start loads the configuration.
func New(opts Options) *Manager {
	if opts.ReloadInterval <= 0 {
		opts.ReloadInterval = 2 * time.Second
	}
	if opts.SecretResync <= 0 {
		opts.SecretResync = time.Minute
	}
	m := &Manager{opts: opts}
	m.bindings.Store(&bindings{repos: map[string]*repository{}, byNamespace: map[string]*repository{}})
	return m
}

// Start loads the configuration, starts an engine per repository, and
// reloads the file whenever it changes until ctx ends. It fails only when
// the first configuration cannot be read.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.reload(ctx); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(m.opts.ReloadInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				m.stopAll()
				return
			case <-t.C:
				if err := m.reload(ctx); err != nil {
					klog.FromContext(ctx).Error(err, "Keeping the previous configuration")
				}
			}
		}
	}()
	return nil
}

// Engine returns the engine that serves namespace, and its repository name.
func (m *Manager) Engine(namespace string) (*engine.Engine, string, bool) {
	r, ok := m.bindings.Load().byNamespace[namespace]
	if !ok {
		return nil, "", false
	}
	return r.engine, r.cfg.Name, true
}

// Namespaces lists the bound namespaces, sorted.
func (m *Manager) Namespaces() []string {
	b := m.bindings.Load()
	out := make([]string, 0, len(b.byNamespace))
	for ns := range b.byNamespace {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// Ready returns nil once every repository has been read once.
func (m *Manager) Ready() error {
	for name, r := range m.bindings.Load().repos {
		if !r.engine.Ready() {
			return fmt.Errorf("repository %s has not been read yet", name)
		}
	}
	return nil
}

// Receiver returns what the push-webhook receiver needs of a repository:
// its webhookToken and a refresh.
func (m *Manager) Receiver(name string) (receiver.Target, bool) {
	r, ok := m.bindings.Load().repos[name]
	if !ok {
		return receiver.Target{}, false
	}
	return receiver.Target{Token: r.webhookToken, Refresh: r.engine.Refresh}, true
}

// loadRepository reads a repository's Secrets and returns it, with prev's
// engine when its settings and credentials are unchanged, or a new one.
func (m *Manager) loadRepository(ctx context.Context, rc config.Repository, prev *repository) (*repository, error) {
	creds, token, err := m.credentials(ctx, rc)
	if err != nil {
		return nil, err
	}
	signer, signingKey, err := m.signer(ctx, rc)
	if err != nil {
		return nil, err
	}
	key := settingsKey(rc, creds, signingKey)
	var r *repository
	if prev != nil && prev.key == key {
		r = &repository{cfg: rc, key: key, engine: prev.engine, stop: prev.stop}
	} else if r, err = m.startRepository(ctx, rc, creds, signer, key); err != nil {
		// New repository, new settings, or rotated credentials.
		return nil, err
	}
	r.webhookToken = token
	return r, nil
}

func sameFailures(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Failures lists the repositories whose last reload failed (a Secret
// unreadable or incomplete), with the error; each keeps serving from its
// previous engine, if it had one.
func (m *Manager) Failures() map[string]string {
	out := map[string]string{}
	for k, v := range m.bindings.Load().failed {
		out[k] = v
	}
	return out
}

func (m *Manager) reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, err := os.ReadFile(m.opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	old := m.bindings.Load()
	secretsDue := time.Since(m.lastSecretRead) >= m.opts.SecretResync
	if (bytes.Equal(raw, old.raw) && !secretsDue) || bytes.Equal(raw, old.rejected) {
		return nil
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		if old.raw != nil { // keep serving the previous configuration
			m.bindings.Store(&bindings{raw: old.raw, rejected: raw, repos: old.repos, byNamespace: old.byNamespace, failed: old.failed})
		}
		return fmt.Errorf("configuration %s: %w", m.opts.ConfigPath, err)
	}
	m.lastSecretRead = time.Now()
	next := &bindings{raw: raw, repos: map[string]*repository{}, byNamespace: map[string]*repository{}, failed: map[string]string{}}
	changed := !bytes.Equal(raw, old.raw)
	// Engines started by this reload are stopped unless it is stored.
	var started []*repository
	stored := false
	defer func() {
		if !stored {
			for _, r := range started {
				r.stop()
			}
		}
	}()
	for _, rc := range cfg.Repositories {
		r, err := m.loadRepository(ctx, rc, old.repos[rc.Name])
		if err != nil {
			// One broken Secret stops only its own repository: it keeps
			// its previous engine, if it had one, and the others load.
			// The error names the Secret and key, never the material.
			klog.FromContext(ctx).Error(err, "Repository not (re)loaded; keeping its previous engine if any", "repository", rc.Name)
			next.failed[rc.Name] = err.Error()
			prev, ok := old.repos[rc.Name]
			if !ok {
				continue
			}
			r = &repository{cfg: rc, key: prev.key, engine: prev.engine, stop: prev.stop, webhookToken: prev.webhookToken}
		} else if prev, ok := old.repos[rc.Name]; !ok || prev.engine != r.engine {
			changed = true
			started = append(started, r)
		} else {
			changed = changed || !bytes.Equal(prev.webhookToken, r.webhookToken)
		}
		next.repos[rc.Name] = r
		for _, ns := range rc.Namespaces {
			next.byNamespace[ns] = r
		}
	}
	changed = changed || !sameFailures(next.failed, old.failed)
	if !changed {
		return nil // Secrets read again, nothing rotated
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reload abandoned: %w", err) // the deferred stop ends the engines it started
	}
	m.bindings.Store(next)
	stored = true
	for name, r := range old.repos {
		if n, ok := next.repos[name]; !ok || n.engine != r.engine {
			r.stop()
		}
	}
	klog.FromContext(ctx).Info("Loaded configuration", "repositories", len(next.repos), "namespaces", len(next.byNamespace))
	return nil
}

// credentials reads a repository's Secret: Git credentials, and the
// webhookToken of push notifications.
func (m *Manager) credentials(ctx context.Context, rc config.Repository) (gitstore.Credentials, []byte, error) {
	if rc.SecretRef == nil {
		return gitstore.Credentials{}, nil, nil
	}
	data, err := m.opts.Secrets(ctx, rc.SecretRef.Namespace, rc.SecretRef.Name)
	if err != nil {
		return gitstore.Credentials{}, nil, fmt.Errorf("repository %s: reading Secret %s/%s: %w", rc.Name, rc.SecretRef.Namespace, rc.SecretRef.Name, err)
	}
	return gitstore.Credentials{
		Username:    string(data["username"]),
		Password:    string(data["password"]),
		BearerToken: string(data["bearerToken"]),
		CAFile:      data["ca.crt"],
		Identity:    data["identity"],
		KnownHosts:  data["known_hosts"],
	}, data["webhookToken"], nil
}

// settingsKey identifies what an engine is built from; the namespaces a
// repository serves are not part of it, so rebinding keeps the engine.
func settingsKey(rc config.Repository, creds gitstore.Credentials, signingKey []byte) [32]byte {
	h := sha256.New()
	rc.Namespaces = nil
	_ = json.NewEncoder(h).Encode(rc)
	for _, b := range [][]byte{[]byte(creds.Username), []byte(creds.Password), []byte(creds.BearerToken), creds.CAFile, creds.Identity, creds.KnownHosts, signingKey} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var key [32]byte
	copy(key[:], h.Sum(nil))
	return key
}

func (m *Manager) startRepository(ctx context.Context, rc config.Repository, creds gitstore.Credentials, signer gitstore.Signer, key [32]byte) (*repository, error) {
	opts := engine.Options{
		Repository:    gitstore.Options{URL: rc.URL, Credentials: creds, Timeout: m.opts.GitTimeout, Signer: signer},
		DefaultBranch: rc.DefaultBranch,
		Author:        gitstore.Signature{Name: rc.CommitAuthor.Name, Email: rc.CommitAuthor.Email},
		RetryAfter:    m.opts.RetryAfter,
		ApprovalKey:   m.opts.ApprovalKey,
		Health:        m.opts.Health,
	}
	if m.opts.ObserveGit != nil {
		opts.ObserveGit = m.opts.ObserveGit(rc.Name)
	}
	e, err := engine.New(opts)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", rc.Name, err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	logger := klog.FromContext(ctx).WithValues("repository", rc.Name)
	if signer != nil { // the public half only: add it to the Git host and to Flux's spec.verify
		logger.Info("Signing commits", "format", signer.Format(), "fingerprint", signer.Fingerprint(), "publicKey", signer.PublicKey())
	}
	go func() {
		if err := e.Refresh(runCtx); err != nil {
			logger.Error(err, "First read of the repository failed; retrying every poll interval")
		}
		e.Run(runCtx, rc.PollInterval.Duration, func(err error) { logger.Error(err, "Refreshing the repository") })
	}()
	if m.opts.Follow != nil {
		go m.opts.Follow(klog.NewContext(runCtx, logger), rc.Name, e)
	}
	return &repository{cfg: rc, key: key, engine: e, stop: stop}, nil
}

func (m *Manager) stopAll() {
	for _, r := range m.bindings.Load().repos {
		r.stop()
	}
}

// FluxClaim is an environment that names a Flux Kustomization as its
// fluxKustomization.
type FluxClaim struct {
	// Environment is its name; Namespace the first (sorted) namespace its
	// repository serves, where its RBAC is read.
	Environment, Namespace string
	// Repository and Path are where its manifests live.
	Repository, Path string
	// OverlayNamespace is its overlay's namespace: field, empty when unset.
	OverlayNamespace string
}

// FluxClaims lists every environment, of every repository, whose
// fluxKustomization is the given Flux Kustomization, from the
// repositories' snapshots (no I/O). One environment appears once however
// many namespaces its repository serves. A fluxKustomization without a
// namespace means flux-system.
func (m *Manager) FluxClaims(kustomizationNamespace, kustomizationName string) []FluxClaim {
	b := m.bindings.Load()
	firstNamespace := map[*repository]string{}
	for _, ns := range sortedKeys(b.byNamespace) {
		if r := b.byNamespace[ns]; firstNamespace[r] == "" {
			firstNamespace[r] = ns
		}
	}
	var out []FluxClaim
	for _, name := range sortedKeys(b.repos) {
		r := b.repos[name]
		ns, ok := firstNamespace[r]
		if !ok {
			continue // serves no namespace: nobody's RBAC applies
		}
		for _, env := range r.engine.Snapshot().Environments() {
			ref := env.Spec.FluxKustomization
			if ref == nil || ref.Name != kustomizationName {
				continue
			}
			refNamespace := ref.Namespace
			if refNamespace == "" {
				refNamespace = "flux-system"
			}
			if refNamespace == kustomizationNamespace {
				out = append(out, FluxClaim{Environment: env.Name, Namespace: ns, Repository: r.cfg.Name, Path: env.Spec.Path, OverlayNamespace: env.Status.Namespace})
			}
		}
	}
	return out
}

// FluxOwner finds the Environment whose fluxKustomization is the given Flux
// Kustomization, when exactly one environment claims it.
func (m *Manager) FluxOwner(kustomizationNamespace, kustomizationName string) (environment, namespace, repository, path string, ok bool) {
	claims := m.FluxClaims(kustomizationNamespace, kustomizationName)
	if len(claims) != 1 {
		return "", "", "", "", false
	}
	c := claims[0]
	return c.Environment, c.Namespace, c.Repository, c.Path, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
