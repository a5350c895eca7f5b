package registry

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gitgate-dev/gitgate/pkg/engine"
)

// VerbSubresource is the wiring every create-only subresource behind a
// custom verb on one environment shares (environments/<name>/freeze,
// environments/<name>/sealedsecrets, promotions/<name>/approval): New and
// Destroy, the engine of the request's namespace, the verb's
// SubjectAccessReview, admission's createValidation, and engine errors as
// status errors. A storage embeds it, and its Create hands Perform a
// VerbCreate holding only what differs.
type VerbSubresource struct {
	// Backend resolves the request's namespace to its engine.
	Backend *Backend
	// Authorizer answers whether the user holds Verb on the environment.
	Authorizer authorizer.Authorizer
	// Resource is the parent resource (environments, promotions), named in
	// refusals and status errors.
	Resource schema.GroupResource
	// Kind is the subresource's kind, named in 422s: "EnvironmentFreeze".
	Kind string
	// Verb is the custom verb a create needs on the environment.
	Verb string
	// NewFunc returns an empty request object.
	NewFunc func() runtime.Object
}

var _ rest.Storage = &VerbSubresource{}

// New returns an empty request object.
func (s *VerbSubresource) New() runtime.Object { return s.NewFunc() }

// Destroy does nothing: the engines belong to the backend.
func (s *VerbSubresource) Destroy() {}

// VerbCall is a create whose verb was allowed: where it goes and who asks.
type VerbCall struct {
	// Engine serves the request's namespace.
	Engine *engine.Engine
	// Namespace is the request's namespace.
	Namespace string
	// User is the requesting user's name.
	User string
	// DryRun is true when the request asked for a dry run.
	DryRun bool
}

// VerbCreate is what one create on a VerbSubresource does beyond the
// shared wiring.
type VerbCreate struct {
	// Action says what the create does, in a refusal: "freeze", "seal
	// secrets into", "approve promotions into".
	Action string
	// Environment returns the environment whose verb the create needs,
	// read from the engine (an approval's is its promotion's target). Nil
	// means the environment the request names (environments/<name>/...).
	Environment func(e *engine.Engine) (string, error)
	// Check, when set, refuses what the verb alone does not: it runs once
	// the verb is allowed and before admission's createValidation.
	Check func(c VerbCall) error
	// Apply makes the change and returns the object to answer with;
	// Perform gives it the request's name and namespace.
	Apply func(c VerbCall) (runtime.Object, error)
}

// Perform runs one create, in this order, stopping at the first refusal:
// the engine of the request's namespace (400 without one, 403 while it is
// being deleted, 404 when it has no repository), the environment op names,
// the verb on it (403 naming the missing permission), op.Check, admission,
// op.Apply. Errors from op's functions become status errors naming the
// subresource's Kind; errors that already are status errors pass unchanged.
func (s *VerbSubresource) Perform(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc,
	opts *metav1.CreateOptions, op VerbCreate) (runtime.Object, error) {
	e, ns, err := s.Backend.EngineFor(ctx, s.Resource, name)
	if err != nil {
		return nil, err
	}
	environment := name
	if op.Environment != nil {
		if environment, err = op.Environment(e); err != nil {
			return nil, StatusError(err, s.Resource, s.Kind, name)
		}
	}
	if err := AuthorizeEnvironmentVerb(ctx, s.Authorizer, s.Resource, s.Verb, op.Action, ns, environment); err != nil {
		return nil, err
	}
	call := VerbCall{Engine: e, Namespace: ns, User: UserName(ctx), DryRun: opts != nil && IsDryRun(opts.DryRun)}
	if op.Check != nil {
		if err := op.Check(call); err != nil {
			return nil, StatusError(err, s.Resource, s.Kind, name)
		}
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj); err != nil {
			return nil, err
		}
	}
	out, err := op.Apply(call)
	if err != nil {
		return nil, StatusError(err, s.Resource, s.Kind, name)
	}
	m, err := meta.Accessor(out)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	m.SetName(name)
	m.SetNamespace(ns)
	return out, nil
}
