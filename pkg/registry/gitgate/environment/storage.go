package environment

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/clusterstate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/registry"
)

var resource = gitgate.Resource("environments")

// REST serves environments from the repositories bound to namespaces.
type REST struct {
	backend    *registry.Backend
	authorizer authorizer.Authorizer
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
	_ rest.GracefulDeleter      = &REST{}
	_ rest.CollectionDeleter    = &REST{}
	_ rest.TableConvertor       = &REST{}
)

// NewREST returns the storage of environments. authz checks the verb
// promote on an environment for an update that weakens its protections
// and for a delete.
func NewREST(typer runtime.ObjectTyper, backend *registry.Backend, authz authorizer.Authorizer) *REST {
	return &REST{backend: backend, authorizer: authz, strategy: newStrategy(typer)}
}

func (r *REST) New() runtime.Object     { return &gitgate.Environment{} }
func (r *REST) NewList() runtime.Object { return &gitgate.EnvironmentList{} }
func (r *REST) Destroy()                {}
func (r *REST) NamespaceScoped() bool   { return true }
func (r *REST) GetSingularName() string { return "environment" }
func (r *REST) ShortNames() []string    { return []string{"env"} }
func (r *REST) Categories() []string    { return []string{"gitgate"} }

// present gives a shared engine object its namespace, UID and
// resourceVersion, and the Drift condition from recorded break-glass changes.
func (r *REST) present(s *engine.Snapshot, env *gitgate.Environment, namespace, rv string) *gitgate.Environment {
	out := *env
	out.Namespace = namespace
	out.ResourceVersion = rv
	out.UID = registry.StableUID("Environment", namespace, env.Name)
	if r.backend.Drift != nil {
		var since time.Time
		if s != nil {
			since = s.RevisionTime(env.Name)
		}
		drift := clusterstate.DriftCondition(r.backend.Drift.Drift(namespace, env.Name, since), since)
		out.Status.Conditions = append(append([]metav1.Condition(nil), env.Status.Conditions...), drift)
	}
	if ref := env.Spec.FluxKustomization; ref != nil && r.backend.Sync != nil {
		if k, ok := r.backend.Sync.Kustomization(ref.Namespace, ref.Name); ok {
			out.Status.Sync = clusterstate.SyncStatus(k, s != nil && s.PathCurrentAt(env.Name, clusterstate.RevisionCommit(k.AppliedRevision)))
		}
	}
	withFreeze(&out, time.Now())
	return &out
}

func fieldSet(env *gitgate.Environment) fields.Set {
	return fields.Set{"metadata.name": env.Name, "metadata.namespace": env.Namespace}
}

// Get returns one environment as of the latest state read from Git.
func (r *REST) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	e, ns, err := r.backend.EngineFor(ctx, resource, name)
	if err != nil {
		return nil, err
	}
	r.backend.SyncForGet(ctx, e, opts)
	s := e.Snapshot()
	env, err := s.Environment(name)
	if err != nil {
		return nil, registry.StatusError(err, resource, "Environment", name)
	}
	return r.present(s, env, ns, s.ResourceVersionString()).DeepCopy(), nil
}

// List returns the environments of the namespace (or of every namespace).
func (r *REST) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	targets := r.backend.Targets(ctx)
	r.backend.SyncForList(ctx, targets, opts)
	list := &gitgate.EnvironmentList{}
	list.ResourceVersion = registry.ListResourceVersion(targets)
	for _, t := range targets {
		s := t.Engine.Snapshot()
		for _, ns := range t.Namespaces {
			list.Items = append(list.Items, r.matching(s, ns, opts)...)
		}
	}
	sort.SliceStable(list.Items, func(i, j int) bool { return list.Items[i].Namespace < list.Items[j].Namespace })
	return list, nil
}

func (r *REST) matching(s *engine.Snapshot, ns string, opts *metainternalversion.ListOptions) []gitgate.Environment {
	var out []gitgate.Environment
	for _, env := range s.Environments() {
		p := r.present(s, env, ns, s.ResourceVersionString())
		if registry.Matches(opts, p.Labels, fieldSet(p)) {
			out = append(out, *p)
		}
	}
	return out
}

// Watch streams environment changes, including commits pushed straight to Git.
func (r *REST) Watch(ctx context.Context, opts *metainternalversion.ListOptions) (watch.Interface, error) {
	return r.backend.Watch(ctx, opts, resource, view{r})
}

type view struct{ r *REST }

var _ registry.StatusView = view{}

// snapshotFor is the current snapshot of namespace's repository, for events.
func (r *REST) snapshotFor(ns string) *engine.Snapshot {
	if e, _, ok := r.backend.Repositories.Engine(ns); ok {
		return e.Snapshot()
	}
	return nil
}

func (v view) NewObject() runtime.Object { return &gitgate.Environment{} }

func (v view) Initial(s *engine.Snapshot, ns string, opts *metainternalversion.ListOptions) []runtime.Object {
	var out []runtime.Object
	for _, env := range v.r.matching(s, ns, opts) {
		out = append(out, &env)
	}
	return out
}

func (v view) FromEvent(ev engine.Event, ns string, opts *metainternalversion.ListOptions) runtime.Object {
	if ev.Environment == nil {
		return nil
	}
	p := v.r.present(v.r.snapshotFor(ns), ev.Environment, ns, fmt.Sprint(ev.ResourceVersion))
	if !registry.Matches(opts, p.Labels, fieldSet(p)) {
		return nil
	}
	return p
}

// FromStatusChange returns the environments of ns that a change of their
// Flux Kustomization or drift touches, as they read now.
func (v view) FromStatusChange(c registry.StatusChange, s *engine.Snapshot, ns string, opts *metainternalversion.ListOptions) []runtime.Object {
	if c.Environment != "" && c.Namespace != ns {
		return nil
	}
	var out []runtime.Object
	for _, env := range s.Environments() {
		touched := c.Environment == env.Name
		if ref := env.Spec.FluxKustomization; ref != nil && c.Kustomization == ref.Namespace+"/"+ref.Name {
			touched = true
		}
		if !touched {
			continue
		}
		p := v.r.present(s, env, ns, s.ResourceVersionString())
		if registry.Matches(opts, p.Labels, fieldSet(p)) {
			out = append(out, p)
		}
	}
	return out
}

// Create commits a new definition file.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	return r.create(ctx, obj.(*gitgate.Environment), createValidation, registry.IsDryRun(opts.DryRun))
}

// create is every way to a new environment, POST and a server-side apply
// of a missing one: the strategy (status cleared, validation), admission
// and, for an apply, RBAC's create verb (both in createValidation), then
// the engine's checks (ownership of branch and path, overlay, upstream).
func (r *REST) create(ctx context.Context, env *gitgate.Environment, createValidation rest.ValidateObjectFunc, dryRun bool) (*gitgate.Environment, error) {
	if err := registry.BeforeCreate(ctx, r.strategy, env); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, env); err != nil {
			return nil, err
		}
	}
	e, ns, err := r.backend.EngineFor(ctx, resource, env.Name)
	if err != nil {
		return nil, err
	}
	out, err := e.CreateEnvironment(ctx, engine.EnvironmentWrite{Environment: env, User: registry.UserName(ctx), DryRun: dryRun})
	if err != nil {
		return nil, registry.StatusError(err, resource, "Environment", env.Name)
	}
	return r.present(e.Snapshot(), out, ns, e.Snapshot().ResourceVersionString()).DeepCopy(), nil
}

// Update commits a changed definition; a stale resourceVersion is a 409.
// Branch and path are immutable (422); an update that weakens the
// environment's protections also needs the verb promote on it (403), and
// is written only if the definition is still the one that was decided on.
// An update that changes nothing makes no commit. A server-side apply of a
// missing environment (forceAllowCreate) is a create, with everything
// Create checks.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	e, ns, err := r.backend.EngineFor(ctx, resource, name)
	if err != nil {
		return nil, false, err
	}
	old, err := r.Get(ctx, name, nil)
	if apierrors.IsNotFound(err) && forceAllowCreate {
		obj, err := objInfo.UpdatedObject(ctx, r.New())
		if err != nil {
			return nil, false, err
		}
		out, err := r.create(ctx, obj.(*gitgate.Environment), createValidation, registry.IsDryRun(opts.DryRun))
		if err != nil {
			return nil, false, err
		}
		return out, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	oldEnv := old.(*gitgate.Environment)
	obj, err := objInfo.UpdatedObject(ctx, old)
	if err != nil {
		return nil, false, err
	}
	env := obj.(*gitgate.Environment)
	if env.Spec.Branch == "" { // the default, as on create, so immutability compares like with like
		env.Spec.Branch = e.Snapshot().DefaultBranch()
	}
	if err := rest.BeforeUpdate(r.strategy, ctx, obj, old); err != nil {
		return nil, false, err
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, obj, old); err != nil {
			return nil, false, err
		}
	}
	if weakened := validation.WeakenedProtections(&env.Spec, &oldEnv.Spec); len(weakened) > 0 {
		action := "weaken the protections (" + strings.Join(weakened, ", ") + ") of"
		if err := registry.AuthorizeEnvironmentVerb(ctx, r.authorizer, resource, registry.VerbPromote, action, ns, name); err != nil {
			return nil, false, err
		}
	}
	if validation.WeakensFreeze(&env.Spec, &oldEnv.Spec) {
		// As the freeze subresource's unfreeze: promote alone is not enough.
		if err := registry.AuthorizeEnvironmentVerb(ctx, r.authorizer, resource, VerbFreeze, "weaken the freeze of", ns, name); err != nil {
			return nil, false, err
		}
	}
	out, err := e.UpdateEnvironment(ctx, engine.EnvironmentWrite{Environment: env, User: registry.UserName(ctx),
		DryRun: registry.IsDryRun(opts.DryRun), Expect: &oldEnv.Spec})
	if err != nil {
		return nil, false, registry.StatusError(err, resource, "Environment", name)
	}
	return r.present(e.Snapshot(), out, ns, e.Snapshot().ResourceVersionString()).DeepCopy(), false, nil
}

// Delete commits the removal of the definition file. Deleting an
// environment removes every protection it had, so it needs the verb
// promote on it besides delete, and the verb freeze while it is frozen.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	e, ns, err := r.backend.EngineFor(ctx, resource, name)
	if err != nil {
		return nil, false, err
	}
	old, err := r.Get(ctx, name, nil)
	if err != nil {
		return nil, false, err
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, old); err != nil {
			return nil, false, err
		}
	}
	if err := registry.AuthorizeEnvironmentVerb(ctx, r.authorizer, resource, registry.VerbPromote, "delete", ns, name); err != nil {
		return nil, false, err
	}
	if f := old.(*gitgate.Environment).Status.Freeze; f != nil && f.Frozen {
		// Deleting a frozen environment ends its freeze: the verb freeze too.
		if err := registry.AuthorizeEnvironmentVerb(ctx, r.authorizer, resource, VerbFreeze, "delete the frozen", ns, name); err != nil {
			return nil, false, err
		}
	}
	env := old.(*gitgate.Environment).DeepCopy()
	env.ResourceVersion = ""
	if opts != nil && opts.Preconditions != nil {
		if uid := opts.Preconditions.UID; uid != nil && *uid != env.UID {
			return nil, false, apierrors.NewConflict(resource, name, fmt.Errorf("the UID in the precondition (%s) does not match (%s)", *uid, env.UID))
		}
		if rv := opts.Preconditions.ResourceVersion; rv != nil {
			env.ResourceVersion = *rv
		}
	}
	if _, err := e.DeleteEnvironment(ctx, engine.EnvironmentWrite{Environment: env, User: registry.UserName(ctx),
		DryRun: registry.IsDryRun(opts.DryRun), Expect: &old.(*gitgate.Environment).Spec}); err != nil {
		return nil, false, registry.StatusError(err, resource, "Environment", name)
	}
	return old, true, nil
}

// DeleteCollection is a no-op in a namespace being deleted (Git outlives
// namespaces) and refused otherwise: delete environments one by one.
func (r *REST) DeleteCollection(ctx context.Context, _ rest.ValidateObjectFunc, _ *metav1.DeleteOptions, _ *metainternalversion.ListOptions) (runtime.Object, error) {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	if ns != "" && r.backend.Namespaces != nil && r.backend.Namespaces.Terminating(ns) {
		return &gitgate.EnvironmentList{}, nil
	}
	se := apierrors.NewMethodNotSupported(resource, "deletecollection")
	se.ErrStatus.Message = "deleting every environment at once is not offered: delete them one by one (each is a commit)"
	return nil, se
}
