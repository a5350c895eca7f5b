// Package fluxreconcile asks Flux to reconcile an environment as soon as a
// commit changes it, the way `flux reconcile kustomization --with-source`
// does: it sets the reconcile.fluxcd.io/requestedAt annotation on the
// Kustomization's source, then on the Kustomization. A promotion is then
// applied in seconds whatever Flux's interval.
package fluxreconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
)

// RequestedAtAnnotation is Flux's on-demand reconcile request: a change of
// its value makes the controller reconcile the object at once.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// FieldManager is the field manager of the annotation gitgate sets.
const FieldManager = "gitgate"

// Flux's APIs that gitgate asks to reconcile.
var (
	KustomizationsGVR  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	GitRepositoriesGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
)

// defaultRetry is how long Follow waits before subscribing again when the
// engine is not ready or its change stream ended.
const defaultRetry = time.Second

// Requester asks Flux to reconcile the environments whose revision changes.
type Requester struct {
	// Client patches Flux's objects.
	Client dynamic.Interface
	// Now stamps the requests; default time.Now.
	Now func() time.Time
	// Retry is the wait before subscribing again; default 1s.
	Retry time.Duration
}

// Follow asks Flux to reconcile every environment of e whose revision
// changes, whoever made the commit (gitgate's own writes, or pushes it
// fetched), until ctx ends. When the change stream breaks (a rewritten
// history, a slow consumer), it compares revisions across the gap, so no
// change goes unrequested.
func (r *Requester) Follow(ctx context.Context, repository string, e *engine.Engine) {
	logger := klog.FromContext(ctx).WithValues("repository", repository)
	retry := r.Retry
	if retry <= 0 {
		retry = defaultRetry
	}
	var known map[string]*gitgate.Environment // by name; nil until first read
	for {
		snap := e.Snapshot()
		if snap.Ready() {
			current := byName(snap.Environments())
			if known != nil {
				r.request(ctx, logger, changed(known, current))
			}
			known = current
			if sub, err := e.Watch(snap.ResourceVersion()); err == nil {
				known = r.consume(ctx, logger, sub, known)
				sub.Stop()
				if err := sub.Err(); err != nil {
					logger.V(2).Info("Change stream ended; subscribing again", "reason", err.Error())
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

// consume requests reconciles for the environment changes of sub until it
// ends or ctx does, and returns the environments as last seen.
func (r *Requester) consume(ctx context.Context, logger klog.Logger, sub *engine.Subscription, known map[string]*gitgate.Environment) map[string]*gitgate.Environment {
	for {
		var batch []engine.Event
		select {
		case <-ctx.Done():
			return known
		case ev, ok := <-sub.C:
			if !ok {
				return known
			}
			batch = append(batch, ev)
		}
		// One commit often changes several environments of one
		// source: take what has arrived and ask once per object.
	drain:
		for {
			select {
			case ev, ok := <-sub.C:
				if !ok {
					break drain
				}
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		next := make(map[string]*gitgate.Environment, len(known))
		for k, v := range known {
			next[k] = v
		}
		for _, ev := range batch {
			if ev.Environment == nil {
				continue
			}
			if ev.Type == watch.Deleted {
				delete(next, ev.Environment.Name)
				continue
			}
			next[ev.Environment.Name] = ev.Environment
		}
		r.request(ctx, logger, changed(known, next))
		known = next
	}
}

// byName indexes environments by name.
func byName(envs []*gitgate.Environment) map[string]*gitgate.Environment {
	out := make(map[string]*gitgate.Environment, len(envs))
	for _, env := range envs {
		out[env.Name] = env
	}
	return out
}

// changed lists the environments of next whose revision differs from
// before (new ones included), sorted by name.
func changed(before, next map[string]*gitgate.Environment) []*gitgate.Environment {
	var out []*gitgate.Environment
	for name, env := range next {
		if env.Status.Revision == "" {
			continue
		}
		if old, ok := before[name]; ok && old.Status.Revision == env.Status.Revision {
			continue
		}
		out = append(out, env)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Target is one object gitgate asks Flux to reconcile.
type Target struct {
	GVR       schema.GroupVersionResource
	Namespace string
	Name      string
}

func (t Target) String() string {
	return fmt.Sprintf("%s %s/%s", t.GVR.Resource, t.Namespace, t.Name)
}

// request asks Flux to reconcile the environments' Kustomizations and their
// sources, each object once, sources first.
func (r *Requester) request(ctx context.Context, logger klog.Logger, envs []*gitgate.Environment) {
	if len(envs) == 0 {
		return
	}
	var sources, kustomizations []Target
	seen := map[Target]bool{}
	for _, env := range envs {
		ref := env.Spec.FluxKustomization
		if ref == nil || ref.Name == "" {
			continue
		}
		ks := Target{GVR: KustomizationsGVR, Namespace: ref.Namespace, Name: ref.Name}
		if ks.Namespace == "" {
			ks.Namespace = "flux-system"
		}
		if seen[ks] {
			continue
		}
		seen[ks] = true
		src, err := r.source(ctx, ks)
		if apierrors.IsNotFound(err) {
			// Not applied by Flux (yet): status.sync says so to users.
			logger.V(1).Info("The environment's Flux Kustomization does not exist", "environment", env.Name, "kustomization", ks.String())
			continue
		}
		if err != nil {
			logger.Error(err, "Cannot ask Flux to reconcile the environment", "environment", env.Name)
			continue
		}
		kustomizations = append(kustomizations, ks)
		if src != nil && !seen[*src] {
			seen[*src] = true
			sources = append(sources, *src)
		}
	}
	stamp := r.now().UTC().Format(time.RFC3339Nano)
	for _, t := range append(sources, kustomizations...) {
		if err := r.annotate(ctx, t, stamp); err != nil {
			logger.Error(err, "Cannot ask Flux to reconcile", "object", t.String())
			continue
		}
		logger.V(2).Info("Asked Flux to reconcile", "object", t.String(), "requestedAt", stamp)
	}
}

// source returns the GitRepository a Kustomization reads from, or nil when
// its source is of another kind (Flux then picks the change up at its
// interval, or through its own notification).
func (r *Requester) source(ctx context.Context, ks Target) (*Target, error) {
	obj, err := r.Client.Resource(ks.GVR).Namespace(ks.Namespace).Get(ctx, ks.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading Flux Kustomization %s/%s: %w", ks.Namespace, ks.Name, err)
	}
	ref, _, _ := unstructured.NestedMap(obj.Object, "spec", "sourceRef")
	kind, _ := ref["kind"].(string)
	name, _ := ref["name"].(string)
	namespace, _ := ref["namespace"].(string)
	if kind != "GitRepository" || name == "" {
		return nil, nil
	}
	if namespace == "" {
		namespace = ks.Namespace
	}
	return &Target{GVR: GitRepositoriesGVR, Namespace: namespace, Name: name}, nil
}

// annotate sets the request annotation on one object.
func (r *Requester) annotate(ctx context.Context, t Target, stamp string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{RequestedAtAnnotation: stamp}}})
	if err != nil {
		return err
	}
	_, err = r.Client.Resource(t.GVR).Namespace(t.Namespace).Patch(ctx, t.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("annotating %s: grant gitgate patch on it, or turn reconcile-on-commit off: %w", t, err)
	case err != nil:
		return fmt.Errorf("annotating %s: %w", t, err)
	}
	return nil
}

func (r *Requester) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
