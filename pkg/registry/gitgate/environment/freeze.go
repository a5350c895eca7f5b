package environment

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/registry"
)

// VerbFreeze is the custom verb a user needs on environments/<name> to
// switch its freeze on or off through the freeze subresource.
const VerbFreeze = "freeze"

// freezeKind names the subresource's kind in errors.
const freezeKind = "EnvironmentFreeze"

// FreezeREST serves environments/<name>/freeze: a create switches the
// environment's freeze on or off, as a commit of its definition. It needs
// the verb freeze on the environment, not update: freezing is an
// operational act that release managers hold without being able to edit
// definitions, and unfreezing through it needs no promote either.
type FreezeREST struct{ registry.VerbSubresource }

var _ rest.NamedCreater = &FreezeREST{}

// NewFreezeREST returns the freeze subresource's storage; authz checks the
// freeze verb on the environment.
func NewFreezeREST(backend *registry.Backend, authz authorizer.Authorizer) *FreezeREST {
	return &FreezeREST{registry.VerbSubresource{Backend: backend, Authorizer: authz, Resource: resource, Kind: freezeKind,
		Verb: VerbFreeze, NewFunc: func() runtime.Object { return &gitgate.EnvironmentFreeze{} }}}
}

// Create checks the freeze verb and commits the switch synchronously.
func (r *FreezeREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*gitgate.EnvironmentFreeze)
	action := "freeze"
	if !req.Spec.Frozen {
		action = "unfreeze"
	}
	return r.Perform(ctx, name, obj, createValidation, opts, registry.VerbCreate{Action: action, Apply: func(c registry.VerbCall) (runtime.Object, error) {
		if errs := validation.ValidateFreezeReason(req.Spec.Reason, field.NewPath("spec", "reason")); len(errs) > 0 {
			return nil, apierrors.NewInvalid(gitgate.Kind(freezeKind), name, errs)
		}
		env, commit, err := c.Engine.SetFreeze(ctx, engine.FreezeSwitch{Environment: name, Frozen: req.Spec.Frozen, Reason: req.Spec.Reason,
			User: c.User, DryRun: c.DryRun})
		if err != nil {
			return nil, err
		}
		out := req.DeepCopy()
		st, _ := engine.FreezeStatus(env, time.Now())
		out.Status = gitgate.EnvironmentFreezeStatus{Commit: commit, Freeze: *st}
		return out, nil
	}})
}

// withFreeze adds the freeze status and the Frozen condition, as they are
// now, to an environment that has a freeze.
func withFreeze(env *gitgate.Environment, now time.Time) {
	if env.Spec.Freeze == nil {
		return
	}
	st, cond := engine.FreezeStatus(env, now)
	env.Status.Freeze = st
	env.Status.Conditions = append(append([]metav1.Condition(nil), env.Status.Conditions...), cond)
}
