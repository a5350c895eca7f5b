package localstack

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Fleet is a copy of the example fleet in a repository of its own on the
// stack's Git server, which gitgate serves to a namespace of its own, so
// that a test writing Git shares no branch, Environment or promotion with
// another. Its environments claim Flux Kustomizations no Flux runs
// (<name>-apps-<env>), so admission never sees two environments claim one.
type Fleet struct {
	// Name is the repository's name on the Git server and the namespace
	// that gitgate serves it to.
	Name string
	// GitURL clones it (credentials included; trust the stack's CAFile).
	GitURL string
}

// fleetNameRE is what a fleet's name must look like: a namespace name that
// is also a plain repository name.
var fleetNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$`)

// fleetSet is the stack's repository bindings beyond shop-fleet. Its
// mutex also orders the rewrites of gitgate's configuration file, so that
// parallel tests never replace each other's bindings.
type fleetSet struct {
	mu         sync.Mutex
	shop       []string          // the namespaces shop-fleet serves; nil: the stack's default
	repository map[string]string // fleet name -> its repository URL
	signing    map[string]string // fleet name -> its signing format, when it signs
}

// NewFleet creates repository name from artifacts/fleet/trunk, the
// namespace name with the example team RBAC (artifacts/rbac/shop-teams.yaml)
// in it, binds the namespace to the repository and returns once gitgate
// serves the fleet's environments there.
func (s *Stack) NewFleet(ctx context.Context, name string) (*Fleet, error) {
	return s.NewFleetWith(ctx, name, FleetOptions{})
}

// NewFleetWith is NewFleet with options.
func (s *Stack) NewFleetWith(ctx context.Context, name string, opts FleetOptions) (*Fleet, error) {
	if !fleetNameRE.MatchString(name) || name == namespace {
		return nil, fmt.Errorf("fleet name %q: use a lowercase namespace name other than %s", name, namespace)
	}
	seed, err := os.MkdirTemp("", "gitgate-fleet-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(seed)
	if err := os.CopyFS(seed, os.DirFS(filepath.Join(s.opts.RepoRoot, "artifacts", "fleet", "trunk"))); err != nil {
		return nil, fmt.Errorf("copying the example fleet: %w", err)
	}
	definitions, err := filepath.Glob(filepath.Join(seed, ".gitgate", "environments", "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, file := range definitions {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		claim := strings.ReplaceAll(string(data), "name: apps-", "name: "+name+"-apps-")
		if err := os.WriteFile(file, []byte(claim), 0o644); err != nil {
			return nil, err
		}
	}
	if _, err := s.Git.InitRepository(ctx, name, seed, "main"); err != nil {
		return nil, fmt.Errorf("creating repository %s: %w", name, err)
	}
	if _, err := s.Kubectl(ctx, ContextAdmin, "create", "namespace", name); err != nil {
		return nil, err
	}
	rbac, err := os.ReadFile(filepath.Join(s.opts.RepoRoot, "artifacts", "rbac", "shop-teams.yaml"))
	if err != nil {
		return nil, err
	}
	rbac = []byte(strings.ReplaceAll(string(rbac), "namespace: "+namespace+"\n", "namespace: "+name+"\n"))
	if out, err := s.KubectlStdin(ctx, ContextAdmin, rbac, "apply", "--server-side", "--field-manager=gitgate-localstack", "-f", "-"); err != nil {
		return nil, fmt.Errorf("the team RBAC in %s: %w: %s", name, err, out)
	}

	if opts.SigningKey != nil {
		if err := s.signingSecret(ctx, name, opts); err != nil {
			return nil, err
		}
	}
	s.fleets.mu.Lock()
	if s.fleets.repository == nil {
		s.fleets.repository = map[string]string{}
		s.fleets.signing = map[string]string{}
	}
	s.fleets.repository[name] = s.Git.URL(name)
	if opts.SigningKey != nil {
		s.fleets.signing[name] = opts.SigningFormat
	}
	err = s.writeChartConfig(ctx, s.fleets.shop)
	s.fleets.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "gitgate to serve fleet "+name, s.procs, func(ctx context.Context) error {
		out, err := s.Kubectl(ctx, ContextAdmin, "get", "environments", "-n", name, "-o", "name")
		if err != nil || !strings.Contains(out, "environment.gitgate.dev/prod") {
			return fmt.Errorf("%w: %s %v", errNotYet, out, err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	clone, err := url.Parse(s.Git.URL(name))
	if err != nil {
		return nil, err
	}
	if shop, err := url.Parse(s.GitURL); err == nil {
		clone.User = shop.User // the one account of the stack's Git server
	}
	return &Fleet{Name: name, GitURL: clone.String()}, nil
}

// RemoveFleet unbinds a fleet's namespace and deletes the namespace
// (without waiting); its repository stays on the Git server.
func (s *Stack) RemoveFleet(ctx context.Context, f *Fleet) error {
	s.fleets.mu.Lock()
	_, signed := s.fleets.signing[f.Name]
	delete(s.fleets.repository, f.Name)
	delete(s.fleets.signing, f.Name)
	err := s.writeChartConfig(ctx, s.fleets.shop)
	s.fleets.mu.Unlock()
	if err != nil {
		return err
	}
	if signed {
		name := signingSecretName(f.Name)
		if _, err := s.Kubectl(ctx, ContextAdmin, "delete", "-n", releaseNamespace, "--ignore-not-found",
			"secret/"+name, "role/"+name, "rolebinding/"+name); err != nil {
			return err
		}
	}
	_, err = s.Kubectl(ctx, ContextAdmin, "delete", "namespace", f.Name, "--wait=false", "--ignore-not-found")
	return err
}

// extraRepositories is the chart's entries for the fleets; the caller
// holds s.fleets.mu.
func (s *Stack) extraRepositories() []chartRepository {
	names := make([]string, 0, len(s.fleets.repository))
	for name := range s.fleets.repository {
		names = append(names, name)
	}
	sort.Strings(names)
	var repos []chartRepository
	for _, name := range names {
		repos = append(repos, chartRepository{
			Name: name, URL: s.fleets.repository[name], DefaultBranch: "main", Namespaces: []string{name},
			SecretRef:    map[string]string{"namespace": releaseNamespace, "name": "shop-fleet-auth"},
			PollInterval: s.opts.PollInterval.String(),
			CommitAuthor: map[string]string{"name": "gitgate", "email": "gitgate@example.com"},
			Signing:      s.fleetSigning(name),
		})
	}
	return repos
}
