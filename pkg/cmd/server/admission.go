package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/admission"
	"github.com/gitgate-dev/gitgate/pkg/apiserver"
	"github.com/gitgate-dev/gitgate/pkg/breakglass"
	"github.com/gitgate-dev/gitgate/pkg/clusterstate"
	"github.com/gitgate-dev/gitgate/pkg/metrics"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

// AdmissionOptions configure the validating webhook listener.
type AdmissionOptions struct {
	BindAddress           net.IP
	Port                  int
	ApplierNamespaces     []string
	TenantServiceAccounts []string
	AllowedUsers          []string
	AllowedGroups         []string
	ManagedLabelKeys      []string
	ProtectScale          bool
	// ClientCAFile, when set, makes the webhook require a client
	// certificate signed by one of its CAs (kube-apiserver's, configured
	// through its AdmissionConfiguration); ClientAllowedNames, when set,
	// narrows it to these common names.
	ClientCAFile       string
	ClientAllowedNames []string
	// BreakGlassTTL is how long an admitted break-glass change may take to
	// show on the object before it is dropped unrecorded.
	BreakGlassTTL time.Duration
}

func newAdmissionOptions() *AdmissionOptions {
	d := admission.DefaultPolicy()
	return &AdmissionOptions{BindAddress: net.IPv4zero, ApplierNamespaces: d.ApplierNamespaces, ManagedLabelKeys: d.ManagedLabelKeys, BreakGlassTTL: 2 * time.Minute}
}

// AddFlags adds the webhook's flags.
func (a *AdmissionOptions) AddFlags(fs *pflag.FlagSet) {
	fs.IPVar(&a.BindAddress, "admission-bind-address", a.BindAddress, "Address the admission webhook listens on.")
	fs.IntVar(&a.Port, "admission-port", a.Port, "HTTPS port of the admission webhook (path /validate), with the serving certificate of --tls-cert-file; 0 disables it.")
	fs.StringSliceVar(&a.ApplierNamespaces, "admission-applier-namespaces", a.ApplierNamespaces, "Namespaces whose service accounts apply GitOps changes (Flux's).")
	fs.StringSliceVar(&a.TenantServiceAccounts, "admission-tenant-service-accounts", a.TenantServiceAccounts, "Service accounts Flux impersonates, as namespace:name (*:name for any namespace).")
	fs.StringSliceVar(&a.AllowedUsers, "admission-allowed-users", a.AllowedUsers, "Further users that may change managed objects.")
	fs.StringSliceVar(&a.AllowedGroups, "admission-allowed-groups", a.AllowedGroups, "Further groups that may change managed objects.")
	fs.StringSliceVar(&a.ManagedLabelKeys, "admission-managed-label-keys", a.ManagedLabelKeys, "Labels that mark objects GitOps manages.")
	fs.BoolVar(&a.ProtectScale, "admission-protect-scale", a.ProtectScale, "Refuse the scale subresource on managed objects too (by default it is allowed, for HorizontalPodAutoscalers).")
	fs.StringVar(&a.ClientCAFile, "admission-client-ca-file", a.ClientCAFile, "PEM CA bundle: when set, the webhook answers only clients (kube-apiserver, through its AdmissionConfiguration's kubeConfigFile) that present a certificate it signed. Reloaded when it changes.")
	fs.StringSliceVar(&a.ClientAllowedNames, "admission-client-allowed-names", a.ClientAllowedNames, "Common names allowed among the certificates of --admission-client-ca-file; empty allows any it signed.")
	fs.DurationVar(&a.BreakGlassTTL, "admission-break-glass-ttl", a.BreakGlassTTL, "How long an admitted break-glass change may take to show on the object; it is recorded only once it does.")
}

func (a *AdmissionOptions) policy() admission.Policy {
	p := admission.DefaultPolicy()
	p.ApplierNamespaces, p.TenantServiceAccounts = a.ApplierNamespaces, a.TenantServiceAccounts
	p.AllowedUsers, p.AllowedGroups = a.AllowedUsers, a.AllowedGroups
	p.ManagedLabelKeys, p.ProtectScale = a.ManagedLabelKeys, a.ProtectScale
	return p
}

// start serves the webhook until ctx ends.
func (a *AdmissionOptions) start(ctx context.Context, cfg *apiserver.Config, manager *repositories.Manager, client kubernetes.Interface, cluster *clusterstate.State) error {
	if a.Port == 0 {
		return nil
	}
	cert := cfg.GenericConfig.SecureServing.Cert
	if cert == nil {
		return errors.New("the admission webhook needs a serving certificate (--tls-cert-file)")
	}
	clients, err := a.clientAuthentication(ctx)
	if err != nil {
		return err
	}
	metadataClient, err := metadata.NewForConfig(cfg.GenericConfig.ClientConfig)
	if err != nil {
		return err
	}
	observer := breakglass.NewObserver(ctx, breakglass.Options{Metadata: metadataClient, Kubernetes: client, Record: cluster.RecordBreakGlass, TTL: a.BreakGlassTTL})
	objects := cluster.ObjectMetadata(ctx)
	handler := &admission.Handler{
		Policy:          a.policy(),
		NamespaceLabels: cluster.NamespaceLabels,
		Metadata:        objects.Lookup,
		Owners: func(ns, name string) (admission.Owner, bool) {
			env, envNamespace, repo, path, ok := manager.FluxOwner(ns, name)
			return admission.Owner{Environment: env, EnvironmentNamespace: envNamespace, Repository: repo, Path: path}, ok
		},
		Claimants:  cluster.Claimants,
		Authorizer: cfg.GenericConfig.Authorization.Authorizer,
		Claims:     observer,
		Observe:    func(v admission.Verdict) { metrics.RecordAdmission(string(v.Reason), v.Allowed) },
	}
	if a.ProtectScale {
		handler.ParentMeta = objects.Get
	}
	mux := http.NewServeMux()
	mux.Handle("/validate", handler)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	return serveTLS(ctx, "the admission webhook", net.JoinHostPort(a.BindAddress.String(), strconv.Itoa(a.Port)), mux, cert, clients)
}

// serveTLS serves handler on addr with the API server's own (reloadable)
// certificate until ctx ends. With clients set, a connection must present
// a client certificate that clients accepts.
func serveTLS(ctx context.Context, what, addr string, handler http.Handler, cert dynamiccertificates.CertKeyContentProvider, clients *clientVerifier) error {
	// Timeouts and a header limit so that a slow or idle client (anyone on
	// the pod network can reach these ports) cannot hold connections and
	// memory: kube-apiserver and Git hosts send a request at once.
	srv := &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certificateFrom(cert)},
	}
	if clients != nil {
		srv.TLSConfig.ClientAuth = tls.RequireAnyClientCert
		srv.TLSConfig.VerifyPeerCertificate = clients.verify
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.FromContext(ctx).Error(err, "Stopped serving", "what", what)
		}
	}()
	klog.FromContext(ctx).Info("Serving", "what", what, "address", ln.Addr().String())
	return nil
}

// certificateFrom serves the API server's own (reloadable) certificate.
func certificateFrom(provider dynamiccertificates.CertKeyContentProvider) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	var mu sync.Mutex
	var certPEM []byte
	var parsed *tls.Certificate
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, k := provider.CurrentCertKeyContent()
		mu.Lock()
		defer mu.Unlock()
		if parsed == nil || !bytes.Equal(c, certPEM) {
			pair, err := tls.X509KeyPair(c, k)
			if err != nil {
				return nil, err
			}
			certPEM, parsed = c, &pair
		}
		return parsed, nil
	}
}
