package promotion

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/clusterstate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/registry"
)

var resource = gitgate.Resource("promotions")

// VerbPromote is the custom verb a user needs on environments/<target>.
const VerbPromote = "promote"

// Recorder observes promotion outcomes, for metrics.
type Recorder func(namespace, environment, result string)

// REST serves promotions from Git history and creates them as commits.
type REST struct {
	backend    *registry.Backend
	authorizer authorizer.Authorizer
	record     Recorder
	strategy   strategy
	tableConvertor
}

var (
	_ rest.Storage              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.CategoriesProvider   = &REST{}
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Watcher              = &REST{}
	_ rest.Creater              = &REST{}
	_ rest.Updater              = &REST{}
	_ rest.TableConvertor       = &REST{}
)

// NewREST returns the storage of promotions. authz checks the promote verb
// on the target environment for every create; record may be nil.
func NewREST(typer runtime.ObjectTyper, backend *registry.Backend, authz authorizer.Authorizer, record Recorder) *REST {
	if record == nil {
		record = func(string, string, string) {}
	}
	return &REST{backend: backend, authorizer: authz, record: record, strategy: strategy{typer, names.SimpleNameGenerator}}
}

func (r *REST) New() runtime.Object     { return &gitgate.Promotion{} }
func (r *REST) NewList() runtime.Object { return &gitgate.PromotionList{} }
func (r *REST) Destroy()                {}
func (r *REST) NamespaceScoped() bool   { return true }
func (r *REST) GetSingularName() string { return "promotion" }
func (r *REST) ShortNames() []string    { return []string{"promo"} }
func (r *REST) Categories() []string    { return []string{"gitgate"} }

// present gives a shared engine object its namespace and resourceVersion,
// and the Applied and Healthy conditions (and appliedAt) that the target
// environment's Flux Kustomization says of its commit now: derived at
// every read, never stored.
func (r *REST) present(e *engine.Engine, s *engine.Snapshot, p *gitgate.Promotion, namespace, rv string) *gitgate.Promotion {
	out := *p
	out.Namespace = namespace
	out.ResourceVersion = rv
	if r.backend.Sync != nil && e != nil && s != nil {
		if st, ok := r.backend.Sync.PromotionState(e, s, p); ok {
			withState(&out, st)
		}
	}
	return &out
}

// withState adds a derived state to a promotion's status.
func withState(p *gitgate.Promotion, st clusterstate.PromotionState) {
	p.Status.Conditions = append(append([]metav1.Condition(nil), p.Status.Conditions...), st.Applied, st.Healthy)
	p.Status.AppliedAt = st.AppliedAt
}

func fieldSet(p *gitgate.Promotion) fields.Set {
	return fields.Set{"metadata.name": p.Name, "metadata.namespace": p.Namespace, v1alpha1.PromotionEnvironmentField: p.Spec.Environment}
}

// Get reads one promotion from the history index.
func (r *REST) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	e, ns, err := r.backend.EngineFor(ctx, resource, name)
	if err != nil {
		return nil, err
	}
	r.backend.SyncForGet(ctx, e, opts)
	s := e.Snapshot()
	p, err := s.Promotion(name)
	if err != nil {
		return nil, registry.StatusError(err, resource, "Promotion", name)
	}
	return r.present(e, s, p, ns, s.ResourceVersionString()).DeepCopy(), nil
}

// List returns promotions newest first; a field selector on
// spec.environment narrows them without walking history. With a limit it
// returns one page and a continue token for the next: 10,000 promotions
// are read a page at a time.
func (r *REST) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	page, err := newPager(opts)
	if err != nil {
		return nil, err
	}
	targets := r.backend.Targets(ctx)
	r.backend.SyncForList(ctx, targets, opts)
	list := &gitgate.PromotionList{}
	list.ResourceVersion = registry.ListResourceVersion(targets)
	for _, t := range targets {
		s := t.Engine.Snapshot()
		for _, ns := range t.Namespaces {
			r.page(t.Engine, s, ns, opts, page)
		}
	}
	if err := page.done(); err != nil {
		return nil, err
	}
	list.Items = page.items
	if page.next != nil {
		list.Continue = page.next.String()
	}
	return list, nil
}

// page adds the promotions of ns that opts select to the page, from its
// start until it is full.
func (r *REST) page(e *engine.Engine, s *engine.Snapshot, ns string, opts *metainternalversion.ListOptions, page *pager) {
	env := ""
	if opts != nil && opts.FieldSelector != nil {
		env, _ = opts.FieldSelector.RequiresExactMatch(v1alpha1.PromotionEnvironmentField)
	}
	rv := s.ResourceVersionString()
	for _, p := range s.Promotions(env) {
		if !page.offer(ns, p.Name, func() (*gitgate.Promotion, bool) {
			pp := r.present(e, s, p, ns, rv)
			return pp, registry.Matches(opts, pp.Labels, fieldSet(pp))
		}) {
			return
		}
	}
}

func (r *REST) matching(e *engine.Engine, s *engine.Snapshot, ns string, opts *metainternalversion.ListOptions) []gitgate.Promotion {
	env := ""
	if opts != nil && opts.FieldSelector != nil {
		env, _ = opts.FieldSelector.RequiresExactMatch(v1alpha1.PromotionEnvironmentField)
	}
	var out []gitgate.Promotion
	rv := s.ResourceVersionString()
	for _, p := range s.Promotions(env) {
		pp := r.present(e, s, p, ns, rv)
		if registry.Matches(opts, pp.Labels, fieldSet(pp)) {
			out = append(out, *pp)
		}
	}
	return out
}

// Watch streams new promotions and phase changes, from any replica or
// pushed straight to Git, and a promotion again when what Flux says of it
// (Applied, Healthy) changes.
func (r *REST) Watch(ctx context.Context, opts *metainternalversion.ListOptions) (watch.Interface, error) {
	return r.backend.Watch(ctx, opts, resource, view{r})
}

type view struct{ r *REST }

var _ registry.StatusView = view{}

func (view) NewObject() runtime.Object { return &gitgate.Promotion{} }

func (v view) engine(ns string) *engine.Engine {
	e, _, _ := v.r.backend.Repositories.Engine(ns)
	return e
}

func (v view) Initial(s *engine.Snapshot, ns string, opts *metainternalversion.ListOptions) []runtime.Object {
	items := v.r.matching(v.engine(ns), s, ns, opts)
	out := make([]runtime.Object, 0, len(items))
	for i := len(items) - 1; i >= 0; i-- { // oldest first, as they happened
		out = append(out, &items[i])
	}
	return out
}

func (v view) FromEvent(ev engine.Event, ns string, opts *metainternalversion.ListOptions) runtime.Object {
	if ev.Promotion == nil {
		return nil
	}
	e := v.engine(ns)
	var s *engine.Snapshot
	if e != nil {
		s = e.Snapshot()
	}
	p := v.r.present(e, s, ev.Promotion, ns, fmt.Sprint(ev.ResourceVersion))
	if !registry.Matches(opts, p.Labels, fieldSet(p)) {
		return nil
	}
	return p
}

// FromStatusChange returns the promotions of ns whose Applied or Healthy
// condition a change of their target's Flux Kustomization changed, as
// they read now.
func (v view) FromStatusChange(c registry.StatusChange, s *engine.Snapshot, ns string, opts *metainternalversion.ListOptions) []runtime.Object {
	e := v.engine(ns)
	if c.Kustomization == "" || e == nil || v.r.backend.Sync == nil {
		return nil
	}
	var out []runtime.Object
	rv := s.ResourceVersionString()
	v.r.backend.Sync.PromotionsTouched(e, s, c.Kustomization, c.Before, c.After, func(p *gitgate.Promotion, _, _ clusterstate.PromotionState) {
		if pp := v.r.present(e, s, p, ns, rv); registry.Matches(opts, pp.Labels, fieldSet(pp)) {
			out = append(out, pp)
		}
	})
	return out
}

// Create checks the promote verb on the target environment, runs the
// server's admission, then plans, commits and pushes synchronously.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	p := obj.(*gitgate.Promotion)
	if err := registry.BeforeCreate(ctx, r.strategy, obj); err != nil {
		return nil, err
	}
	e, ns, err := r.backend.EngineFor(ctx, resource, p.Name)
	if err != nil {
		return nil, err
	}
	if err := registry.AuthorizeEnvironmentVerb(ctx, r.authorizer, resource, VerbPromote, "promote into", ns, p.Spec.Environment); err != nil {
		r.record(ns, p.Spec.Environment, "forbidden")
		return nil, err
	}
	override, err := registry.FreezeOverride(ctx, r.authorizer, resource, "Promotion", p.Name, p.Annotations, ns, p.Spec.Environment)
	if err != nil {
		r.record(ns, p.Spec.Environment, "forbidden")
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj); err != nil {
			return nil, err
		}
	}
	dryRun := registry.IsDryRun(opts.DryRun)
	out, err := e.Promote(ctx, engine.PromotionRequest{Promotion: p, User: registry.UserName(ctx), DryRun: dryRun, FreezeOverride: override})
	if err != nil {
		r.record(ns, p.Spec.Environment, resultOf(err))
		return nil, registry.StatusError(err, resource, "Promotion", p.Name)
	}
	if !dryRun {
		r.record(ns, p.Spec.Environment, string(out.Status.Phase))
	}
	result := r.present(e, e.Snapshot(), out, ns, e.Snapshot().ResourceVersionString()).DeepCopy()
	if dryRun {
		result.ObjectMeta = *p.ObjectMeta.DeepCopy()
		result.Namespace = ns
	}
	return result, nil
}

func resultOf(err error) string {
	switch se := registry.StatusError(err, resource, "", ""); {
	case apierrors.IsInvalid(se):
		return "invalid"
	case apierrors.IsConflict(se), apierrors.IsAlreadyExists(se):
		return "conflict"
	case apierrors.IsServiceUnavailable(se):
		return "unavailable"
	}
	return "error"
}

// Update always refuses: promotions are immutable history. The verb exists
// so that clients see one clear answer (and so kubectl finds the PATCH
// operation it uses to detect server-side field validation).
func (r *REST) Update(_ context.Context, name string, _ rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc,
	_ rest.ValidateObjectUpdateFunc, _ bool, _ *metav1.UpdateOptions) (runtime.Object, bool, error) {
	se := apierrors.NewMethodNotSupported(resource, "update")
	se.ErrStatus.Message = fmt.Sprintf("promotion %q is immutable Git history: create a new promotion instead (to undo it, promote the environment from its own earlier revision)", name)
	return nil, false, se
}
