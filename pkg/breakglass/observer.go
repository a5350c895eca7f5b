package breakglass

import (
	"context"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
)

// Record is a confirmed claim: the change is on the real object.
type Record struct {
	Claim
	// ResourceVersion is the object's revision that carries the change.
	ResourceVersion string
	// Observed is when the change was seen.
	Observed time.Time
}

// Key identifies the observed change; see Key.
func (r *Record) Key() string { return Key(r.UID, r.ResourceVersion) }

// Options configure an Observer.
type Options struct {
	// Metadata watches claimed objects (metadata only).
	Metadata metadata.Interface
	// Kubernetes asks whether gitgate may watch a resource at all.
	Kubernetes kubernetes.Interface
	// Record is told about every confirmed claim, once per claim.
	Record func(ctx context.Context, r *Record)
	// TTL is how long a claim waits for its change; default 2m.
	TTL time.Duration
	// MaxPending bounds the claims watched at once (each is one watch);
	// more are dropped with an error in the log. Default 64.
	MaxPending int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Observer confirms claims by watching their objects.
type Observer struct {
	ctx   context.Context
	opts  Options
	slots chan struct{}

	mu         sync.Mutex
	observable map[observableKey]observableAnswer
}

type observableKey struct {
	resource  schema.GroupVersionResource
	namespace string
}

type observableAnswer struct {
	err error
	at  time.Time
}

// observableTTL is how long an answer about gitgate's own rights is kept.
const observableTTL = time.Minute

// NewObserver returns an observer whose watches end with ctx.
func NewObserver(ctx context.Context, opts Options) *Observer {
	if opts.TTL <= 0 {
		opts.TTL = 2 * time.Minute
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 64
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Observer{ctx: ctx, opts: opts, slots: make(chan struct{}, opts.MaxPending), observable: map[observableKey]observableAnswer{}}
}

// Observable returns nil when gitgate may watch resource in namespace, so
// that a change there can be confirmed and recorded; the answer of a
// SelfSubjectAccessReview is kept a minute.
func (o *Observer) Observable(ctx context.Context, resource schema.GroupVersionResource, namespace string) error {
	key := observableKey{resource, namespace}
	o.mu.Lock()
	a, ok := o.observable[key]
	o.mu.Unlock()
	if ok && o.opts.Now().Sub(a.at) < observableTTL {
		return a.err
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "watch", Group: resource.Group, Version: resource.Version, Resource: resource.Resource},
	}}
	got, err := o.opts.Kubernetes.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	switch {
	case err != nil:
		return fmt.Errorf("asking whether gitgate may watch %s: %w", resource.GroupResource(), err) // not cached
	case !got.Status.Allowed:
		a.err = fmt.Errorf("gitgate-apiserver may not watch %s, so it could not record the change: ask an administrator to grant it watch on %s (chart value admission.breakGlass.observedResources)",
			resource.GroupResource(), resource.GroupResource())
	default:
		a.err = nil
	}
	a.at = o.opts.Now()
	o.mu.Lock()
	o.observable[key] = a
	o.mu.Unlock()
	return a.err
}

// Claim watches c's object in the background until the claimed change
// shows (then Record is told) or is refuted, or the TTL ends. It never
// blocks; it reports false when too many claims are pending already.
func (o *Observer) Claim(c Claim) bool {
	select {
	case o.slots <- struct{}{}:
	default:
		klog.ErrorS(nil, "Too many break-glass claims waiting to be observed; dropping one", "user", c.User, "object", c.Namespace+"/"+c.Name)
		return false
	}
	go func() {
		defer func() { <-o.slots }()
		o.watch(c)
	}()
	return true
}

func (o *Observer) watch(c Claim) {
	logger := klog.FromContext(o.ctx).WithValues("user", c.User, "resource", c.Resource.Resource, "namespace", c.Namespace, "name", c.Name)
	ctx, cancel := context.WithTimeout(o.ctx, o.opts.TTL)
	defer cancel()
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", c.Name).String()}
	if c.Operation != "CREATE" {
		opts.ResourceVersion = c.OldResourceVersion // the very next revisions
	}
	w, err := o.opts.Metadata.Resource(c.Resource).Namespace(c.Namespace).Watch(ctx, opts)
	if err != nil {
		logger.Error(err, "Cannot watch a break-glass change; it is not recorded")
		return
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		obj, _ := ev.Object.(*metav1.PartialObjectMetadata)
		switch Match(&c, ev.Type, obj) {
		case Pending:
			continue
		case Refuted:
			logger.Info("A break-glass claim was not borne out by the object; nothing is recorded", "event", ev.Type)
			return
		case Confirmed:
			o.opts.Record(o.ctx, &Record{Claim: c, ResourceVersion: obj.ResourceVersion, Observed: o.opts.Now()})
			return
		}
	}
	logger.Info("A break-glass claim was not observed in time; nothing is recorded", "ttl", o.opts.TTL)
}
