package registry

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/clusterstate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
)

// Repositories resolves the repository bound to a namespace.
type Repositories interface {
	// Engine returns the engine serving namespace and the repository's name.
	Engine(namespace string) (*engine.Engine, string, bool)
	// Namespaces lists every bound namespace.
	Namespaces() []string
}

// NamespaceState says whether a namespace is being deleted.
type NamespaceState interface {
	Terminating(namespace string) bool
}

// DriftSource lists the break-glass changes recorded against an
// environment after since, one line each.
type DriftSource interface {
	Drift(namespace, environment string, since time.Time) []string
}

// SyncSource is what Flux says of Environments and Promotions
// (clusterstate.State).
type SyncSource interface {
	// Kustomization returns the named Kustomization, and false when it is
	// not known (not created, or Flux not installed).
	Kustomization(namespace, name string) (clusterstate.Kustomization, bool)
	// PromotionState derives a promotion's Applied and Healthy conditions;
	// false when it has none (it is not Succeeded).
	PromotionState(e *engine.Engine, s *engine.Snapshot, p *gitgate.Promotion) (clusterstate.PromotionState, bool)
	// PromotionsTouched calls fn for each promotion of s whose state a
	// change of Kustomization key from before to after changes.
	PromotionsTouched(e *engine.Engine, s *engine.Snapshot, key string, before, after *clusterstate.Kustomization, fn func(p *gitgate.Promotion, was, now clusterstate.PromotionState))
}

// Backend is what every storage of gitgate.dev reads and writes through.
type Backend struct {
	Repositories Repositories
	Namespaces   NamespaceState
	// Drift, when set, shows break-glass changes on Environment status.
	Drift DriftSource
	// Sync, when set, fills Environment status.sync and the Applied and
	// Healthy conditions of Promotions from Flux.
	Sync SyncSource
	// StatusChanges, when set, tells watches of changes to Sync and Drift.
	StatusChanges *StatusNotifier
}

// Target is one engine and the namespaces it serves in a request.
type Target struct {
	Engine     *engine.Engine
	Namespaces []string
}

// Targets returns the engines a read in ctx's namespace (all namespaces
// when empty) covers. Namespaces being deleted are left out: their objects
// list as empty, so namespace deletion completes and Git keeps everything.
func (b *Backend) Targets(ctx context.Context) []Target {
	namespaces := b.Repositories.Namespaces()
	if ns, ok := genericapirequest.NamespaceFrom(ctx); ok && ns != "" {
		namespaces = []string{ns}
	}
	var out []Target
	index := map[*engine.Engine]int{}
	for _, ns := range namespaces {
		if b.Namespaces != nil && b.Namespaces.Terminating(ns) {
			continue
		}
		e, _, ok := b.Repositories.Engine(ns)
		if !ok {
			continue
		}
		if i, seen := index[e]; seen {
			out[i].Namespaces = append(out[i].Namespaces, ns)
			continue
		}
		index[e] = len(out)
		out = append(out, Target{Engine: e, Namespaces: []string{ns}})
	}
	return out
}

// EngineFor returns the engine a write in ctx's namespace goes to, or a
// status error saying the namespace has no repository.
func (b *Backend) EngineFor(ctx context.Context, resource schema.GroupResource, name string) (*engine.Engine, string, error) {
	ns, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || ns == "" {
		return nil, "", apierrors.NewBadRequest("a namespace is required")
	}
	if b.Namespaces != nil && b.Namespaces.Terminating(ns) {
		return nil, "", apierrors.NewForbidden(resource, name, fmt.Errorf("namespace %s is being deleted", ns))
	}
	e, _, ok := b.Repositories.Engine(ns)
	if !ok {
		se := apierrors.NewNotFound(resource, name)
		se.ErrStatus.Message = fmt.Sprintf("namespace %s is not bound to a Git repository: an administrator adds it to a repository's namespaces in gitgate's configuration", ns)
		return nil, "", se
	}
	return e, ns, nil
}

// SyncForGet makes a get without a resourceVersion consistent with the
// remote: the engine checks the remote's refs (one advertisement shared by
// concurrent reads) and fetches first when they moved, so a read after a
// write, on any replica, sees it. A get with a resourceVersion is served
// from memory. When Git cannot be reached the read is served from memory
// too: the Environments' GitReachable condition says so.
func (b *Backend) SyncForGet(ctx context.Context, e *engine.Engine, opts *metav1.GetOptions) {
	if opts == nil || opts.ResourceVersion == "" {
		_ = e.Sync(ctx)
	}
}

// SyncForList is SyncForGet for a list: every target's engine is brought
// up to its remote, concurrently.
func (b *Backend) SyncForList(ctx context.Context, targets []Target, opts *metainternalversion.ListOptions) {
	if opts != nil && opts.ResourceVersion != "" {
		return
	}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = t.Engine.Sync(ctx)
		}()
	}
	wg.Wait()
}

// ListResourceVersion is the resourceVersion of a list across targets: the
// engine's own for one repository, their sum for several.
func ListResourceVersion(targets []Target) string {
	var sum uint64
	for _, t := range targets {
		sum += t.Engine.Snapshot().ResourceVersion()
	}
	return strconv.FormatUint(sum, 10)
}

// Matches applies a list's label and field selectors.
func Matches(opts *metainternalversion.ListOptions, objLabels map[string]string, objFields fields.Set) bool {
	if opts == nil {
		return true
	}
	if opts.LabelSelector != nil && !opts.LabelSelector.Matches(labels.Set(objLabels)) {
		return false
	}
	if opts.FieldSelector != nil && !opts.FieldSelector.Matches(objFields) {
		return false
	}
	return true
}
