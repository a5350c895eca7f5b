package clusterstate

import (
	"context"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/events"

	"github.com/gitgate-dev/gitgate/pkg/admission"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

// Repositories is the repository manager as cluster state sees it.
type Repositories interface {
	// Engine returns the engine serving namespace and the repository's name.
	Engine(namespace string) (*engine.Engine, string, bool)
	// Namespaces lists every bound namespace.
	Namespaces() []string
	// FluxClaims lists the environments that claim a Flux Kustomization.
	FluxClaims(kustomizationNamespace, kustomizationName string) []repositories.FluxClaim
}

// Options configure a State.
type Options struct {
	// Kubernetes reads namespaces and writes Events.
	Kubernetes kubernetes.Interface
	// Dynamic reads Flux's objects; Metadata the metadata of workloads.
	Dynamic  dynamic.Interface
	Metadata metadata.Interface
	// Namespaces is the server's shared namespace informer (started with
	// the server's informers).
	Namespaces coreinformers.NamespaceInformer
	// Repositories resolves namespaces to engines.
	Repositories Repositories
	// OnKustomization is told of every change of a Flux Kustomization that
	// gitgate shows, with what it showed before (nil when first seen) and
	// after (nil once deleted). It must not block.
	OnKustomization func(key string, before, after *Kustomization)
	// OnDrift is told when a break-glass change is recorded against an
	// environment. It must not block.
	OnDrift func(namespace, environment string)
	// FluxPoll is how often the Flux APIs are looked for until they are
	// served; default 30s.
	FluxPoll time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// State is the cluster as gitgate sees it. Its readers are safe for
// concurrent use and never do I/O, except NamespaceLabels and
// ObjectMetadata, which look up once what their caches lack.
type State struct {
	opts       Options
	namespaces corelisters.NamespaceLister
	labels     *namespaceLabels
	flux       *fluxObjects
	ancestry   *ancestry
	breakGlass informers.SharedInformerFactory
	events     events.EventBroadcaster
	recorder   events.EventRecorder
	promotions *promotionEvents
}

// New returns a State; Start starts its informers.
func New(opts Options) *State {
	if opts.FluxPoll <= 0 {
		opts.FluxPoll = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OnKustomization == nil {
		opts.OnKustomization = func(string, *Kustomization, *Kustomization) {}
	}
	if opts.OnDrift == nil {
		opts.OnDrift = func(string, string) {}
	}
	s := &State{opts: opts, ancestry: newAncestry()}
	s.namespaces = opts.Namespaces.Lister()
	opts.Namespaces.Informer() // registered now, started with the server's informers
	s.labels = newNamespaceLabels(s.namespaces, opts.Kubernetes)
	s.events = events.NewBroadcaster(&events.EventSinkImpl{Interface: opts.Kubernetes.EventsV1()})
	s.recorder = s.events.NewRecorder(scheme.Scheme, "gitgate")
	s.promotions = &promotionEvents{state: s, repos: opts.Repositories, recorder: s.recorder}
	s.flux = newFluxObjects(opts.Dynamic, opts.Kubernetes.Discovery(), func(key string, before, after *Kustomization) {
		opts.OnKustomization(key, before, after)
		s.promotions.observe(key, before, after)
	})
	s.breakGlass = breakGlassEvents(opts.Kubernetes, opts.OnDrift)
	return s
}

// Start starts the informers (Flux's once its APIs are served) and the
// Event sink until ctx ends.
func (s *State) Start(ctx context.Context) {
	s.events.StartRecordingToSink(ctx.Done())
	s.breakGlass.Start(ctx.Done())
	go s.flux.run(ctx, s.opts.FluxPoll)
}

// Terminating reports whether a namespace is being deleted.
func (s *State) Terminating(name string) bool {
	ns, err := s.namespaces.Get(name)
	return err == nil && ns.Status.Phase == "Terminating"
}

// NamespaceLabels returns a namespace's labels; nil when it does not exist,
// an error when it cannot be read.
func (s *State) NamespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	return s.labels.Labels(ctx, name)
}

// Kustomization returns the named Flux Kustomization, and false when it is
// not known (not created, or Flux not installed).
func (s *State) Kustomization(namespace, name string) (Kustomization, bool) {
	return s.flux.kustomization(namespace, name)
}

// GitRepository returns the named Flux GitRepository, and false when it is
// not known.
func (s *State) GitRepository(namespace, name string) (GitRepository, bool) {
	return s.flux.gitRepository(namespace, name)
}

// ObjectMetadata returns the cache of workload metadata that admission
// reads (parents of Scales, controllers of derived objects); ctx bounds
// the informers it starts.
func (s *State) ObjectMetadata(ctx context.Context) *ObjectMetadata {
	return newObjectMetadata(ctx, s.opts.Metadata, s.opts.Kubernetes.Discovery())
}

// Claimants lists the environments that claim a Flux Kustomization, for
// admission; see claimants.
func (s *State) Claimants(namespace, name string) []admission.Claimant {
	target := ""
	if k, ok := s.Kustomization(namespace, name); ok {
		target = k.TargetNamespace
	}
	return claimantsOf(s.opts.Repositories.FluxClaims(namespace, name), target)
}
