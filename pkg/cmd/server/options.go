// Package server is the gitgate-apiserver command: options, Complete,
// Validate, Config, and Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	netutils "k8s.io/utils/net"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/apiserver"
	"github.com/gitgate-dev/gitgate/pkg/clusterstate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/fluxreconcile"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
	"github.com/gitgate-dev/gitgate/pkg/metrics"
	"github.com/gitgate-dev/gitgate/pkg/registry"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

// Options are the command's flags.
type Options struct {
	RecommendedOptions *genericoptions.RecommendedOptions
	// ConfigPath is the repositories configuration file.
	ConfigPath string
	// GitTimeout bounds each Git network operation.
	GitTimeout time.Duration
	// ConfigReloadInterval is how often the configuration file is checked.
	ConfigReloadInterval time.Duration
	// GitRetryAfter is the Retry-After of a 503 when Git is unreachable.
	GitRetryAfter time.Duration
	// Admission configures the validating webhook.
	Admission *AdmissionOptions
	// Receiver configures the push-webhook receiver.
	Receiver *ReceiverOptions
	// MaxRequestBodyBytes bounds the body of a write to the API.
	MaxRequestBodyBytes int64
	// FluxReconcileOnCommit asks Flux to reconcile an environment's
	// Kustomization and its source after every commit that changes it.
	FluxReconcileOnCommit bool
	// ApprovalKeyFile holds the secret that seals approval commits.
	ApprovalKeyFile string
	// ShutdownDelay is how long the server keeps serving after SIGTERM,
	// with /readyz failing, so that the aggregator and the webhook's
	// Service stop sending it requests before it stops taking them.
	ShutdownDelay time.Duration

	Out, ErrOut io.Writer
}

// NewOptions returns the defaults: no etcd (Git is the only storage),
// delegated authentication and authorization.
func NewOptions(out, errOut io.Writer) *Options {
	_, codecs := apiserver.NewScheme()
	o := &Options{
		RecommendedOptions:    genericoptions.NewRecommendedOptions("", codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)),
		GitTimeout:            60 * time.Second,
		ConfigReloadInterval:  2 * time.Second,
		GitRetryAfter:         time.Second,
		MaxRequestBodyBytes:   apiserver.DefaultMaxRequestBodyBytes,
		FluxReconcileOnCommit: true,
		Admission:             newAdmissionOptions(),
		Receiver:              newReceiverOptions(),
		Out:                   out,
		ErrOut:                errOut,
	}
	o.RecommendedOptions.Etcd = nil
	return o
}

// AddFlags adds the generic server's flags and gitgate's.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.RecommendedOptions.AddFlags(fs)
	fs.StringVar(&o.ConfigPath, "config", o.ConfigPath, "Path of the repositories configuration file (reloaded when it changes).")
	fs.DurationVar(&o.GitTimeout, "git-timeout", o.GitTimeout, "Timeout of each Git fetch and push.")
	fs.DurationVar(&o.ConfigReloadInterval, "config-reload-interval", o.ConfigReloadInterval, "How often the configuration file is checked for changes.")
	fs.Int64Var(&o.MaxRequestBodyBytes, "max-request-body-bytes", o.MaxRequestBodyBytes, "Largest body of a write to the API (Environments, Promotions, sealed secrets); a larger one gets 413. The default fits a SealedSecret of a 1 MiB Secret.")
	fs.BoolVar(&o.FluxReconcileOnCommit, "flux-reconcile-on-commit", o.FluxReconcileOnCommit, "After a commit changes an environment (a promotion, or a push gitgate fetched), ask Flux to reconcile its Kustomization and GitRepository at once (annotation "+fluxreconcile.RequestedAtAnnotation+"), as flux reconcile --with-source does. Needs patch on both.")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay-duration", o.ShutdownDelay, "After SIGTERM, keep serving the API, the webhook and the receiver this long with /readyz failing, then drain: the time kube-apiserver takes to stop routing to a terminating pod (its endpoints are removed while it serves), so that a rolling update fails no request. 0 stops at once.")
	fs.StringVar(&o.ApprovalKeyFile, "approval-key-file", o.ApprovalKeyFile, "File holding a secret of at least 32 bytes that seals the commits approvals rely on (approval, rejection and plan commits), so that approvals pushed to Git by anyone else never count. Every replica needs the same key. Without it, promotions into environments with spec.approvals are refused.")
	o.Admission.AddFlags(fs)
	o.Receiver.AddFlags(fs)
	fs.DurationVar(&o.GitRetryAfter, "git-retry-after", o.GitRetryAfter, "Retry-After of the 503 a write gets while Git is unreachable. client-go and kubectl retry such a 503 up to 10 times, so this also bounds how long they wait for Git.")
}

// Complete fills in what depends on other flags.
func (o *Options) Complete() error { return nil }

// Validate checks the flags.
func (o *Options) Validate() error {
	errs := o.RecommendedOptions.Validate()
	if o.ConfigPath == "" {
		errs = append(errs, errors.New("--config is required: the file that binds namespaces to Git repositories"))
	}
	if o.MaxRequestBodyBytes <= 0 {
		errs = append(errs, errors.New("--max-request-body-bytes must be positive: gitgate never reads a body without a limit"))
	}
	if o.GitTimeout <= 0 {
		errs = append(errs, errors.New("--git-timeout must be positive"))
	}
	if o.ShutdownDelay < 0 {
		errs = append(errs, errors.New("--shutdown-delay-duration must not be negative"))
	}
	return utilerrors.NewAggregate(errs)
}

// Config builds the server configuration; the repository manager starts
// with the server (see Run).
func (o *Options) Config() (*apiserver.Config, *repositories.Manager, error) {
	cfg, manager, _, _, err := o.config()
	return cfg, manager, err
}

func (o *Options) config() (*apiserver.Config, *repositories.Manager, kubernetes.Interface, *clusterstate.State, error) {
	if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}
	scheme, codecs := apiserver.NewScheme()
	serverConfig := apiserver.NewRecommendedConfig(scheme, codecs)
	if err := o.RecommendedOptions.ApplyTo(serverConfig); err != nil {
		return nil, nil, nil, nil, err
	}
	serverConfig.MaxRequestBodyBytes = o.MaxRequestBodyBytes
	serverConfig.ShutdownDelayDuration = o.ShutdownDelay
	client, err := kubernetes.NewForConfig(serverConfig.ClientConfig)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(serverConfig.ClientConfig)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("dynamic client: %w", err)
	}
	metadataClient, err := metadata.NewForConfig(serverConfig.ClientConfig)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("metadata client: %w", err)
	}
	var follow func(context.Context, string, *engine.Engine)
	if o.FluxReconcileOnCommit {
		follow = (&fluxreconcile.Requester{Client: dyn}).Follow
	}
	// The cluster state reads the manager's repositories, and the manager's
	// engines measure soak on the cluster state: health is set once the
	// state exists, before anything starts.
	health := &clusterHealth{}
	approvalKey, err := readApprovalKey(o.ApprovalKeyFile)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	manager := repositories.New(repositories.Options{
		Health:         health,
		ApprovalKey:    approvalKey,
		Follow:         follow,
		ConfigPath:     o.ConfigPath,
		ReloadInterval: o.ConfigReloadInterval,
		GitTimeout:     o.GitTimeout,
		RetryAfter:     o.GitRetryAfter,
		ObserveGit:     metrics.GitObserver,
		Secrets: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			s, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		},
	})
	statusChanges := &registry.StatusNotifier{}
	cluster := clusterstate.New(clusterstate.Options{
		Kubernetes:   client,
		Dynamic:      dyn,
		Metadata:     metadataClient,
		Namespaces:   serverConfig.SharedInformerFactory.Core().V1().Namespaces(),
		Repositories: manager,
		OnKustomization: func(key string, before, after *clusterstate.Kustomization) {
			statusChanges.Notify(registry.StatusChange{Kustomization: key, Before: before, After: after})
		},
		OnDrift: func(namespace, environment string) {
			statusChanges.Notify(registry.StatusChange{Namespace: namespace, Environment: environment})
		},
	})
	health.state = cluster
	cfg := &apiserver.Config{
		GenericConfig: serverConfig,
		ExtraConfig: apiserver.ExtraConfig{
			Repositories:  manager,
			Namespaces:    cluster,
			Drift:         cluster,
			Sync:          cluster,
			StatusChanges: statusChanges,
			Scheme:        scheme,
			Codecs:        codecs,
		},
	}
	serverConfig.AddPostStartHookOrDie("gitgate-cluster-state", func(ctx genericapiserver.PostStartHookContext) error {
		cluster.Start(ctx)
		return nil
	})
	return cfg, manager, client, cluster, nil
}

// Run starts the repository manager and serves until ctx ends. The
// repositories, the webhook and the receiver outlive ctx until the API
// server has drained (after --shutdown-delay-duration), so that no request
// it still takes finds them stopped.
func (o *Options) Run(ctx context.Context) error {
	cfg, manager, client, cluster, err := o.config()
	if err != nil {
		return err
	}
	server, err := cfg.Complete().New()
	if err != nil {
		return err
	}
	apiCtx := ctx
	ctx, stopAfterAPI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAfterAPI()
	if err := manager.Start(ctx); err != nil {
		return err
	}
	if err := o.Receiver.start(ctx, cfg, manager); err != nil {
		return err
	}
	if err := o.Admission.start(ctx, cfg, manager, client, cluster); err != nil {
		return err
	}
	server.GenericAPIServer.AddPostStartHookOrDie("gitgate-informers", func(hookCtx genericapiserver.PostStartHookContext) error {
		cfg.GenericConfig.SharedInformerFactory.Start(hookCtx.Done())
		return nil
	})
	return server.GenericAPIServer.PrepareRun().RunWithContext(apiCtx)
}

// clusterHealth measures spec.promotionPolicy.minSoak on the cluster state.
type clusterHealth struct{ state *clusterstate.State }

// HealthySince asks the cluster state.
func (h *clusterHealth) HealthySince(e *engine.Engine, env *gitgate.Environment, commit gitstore.Hash, committed time.Time) (time.Time, bool, string) {
	return h.state.HealthySince(e, env, commit, committed)
}
