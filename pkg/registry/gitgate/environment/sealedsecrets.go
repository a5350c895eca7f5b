package environment

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/registry"
	"github.com/gitgate-dev/gitgate/pkg/sealing"
)

// VerbSeal is the custom verb a user needs on environments/<name> to commit
// sealed secrets into it.
const VerbSeal = "seal"

// sealedSecretRequestKind names the subresource's kind in errors.
const sealedSecretRequestKind = "SealedSecretRequest"

// SealedSecretsREST serves environments/<name>/sealedsecrets: a create
// commits one SealedSecret, sealed on the client, into the environment's
// path and its kustomization's resources.
type SealedSecretsREST struct{ registry.VerbSubresource }

var _ rest.NamedCreater = &SealedSecretsREST{}

// NewSealedSecretsREST returns the sealedsecrets subresource's storage;
// authz checks the seal verb on the environment.
func NewSealedSecretsREST(backend *registry.Backend, authz authorizer.Authorizer) *SealedSecretsREST {
	return &SealedSecretsREST{registry.VerbSubresource{Backend: backend, Authorizer: authz, Resource: resource, Kind: sealedSecretRequestKind,
		Verb: VerbSeal, NewFunc: func() runtime.Object { return &gitgate.SealedSecretRequest{} }}}
}

// Create checks the seal verb (and breakglass when the request overrides a
// freeze), checks that the SealedSecret holds only ciphertext for the
// environment's namespace, and commits it synchronously.
func (r *SealedSecretsREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*gitgate.SealedSecretRequest)
	var override *engine.FreezeOverride
	return r.Perform(ctx, name, obj, createValidation, opts, registry.VerbCreate{
		Action: "seal secrets into",
		Check: func(c registry.VerbCall) (err error) {
			override, err = registry.FreezeOverride(ctx, r.Authorizer, resource, sealedSecretRequestKind, name, req.Annotations, c.Namespace, name)
			return err
		},
		Apply: func(c registry.VerbCall) (runtime.Object, error) {
			env, err := c.Engine.Snapshot().Environment(name)
			if err != nil {
				return nil, registry.StatusError(err, resource, "Environment", name)
			}
			ss, errs := sealing.Parse(req.Spec.SealedSecret.Raw, env.Status.Namespace, field.NewPath("spec", "sealedSecret"))
			if len(errs) > 0 {
				return nil, apierrors.NewInvalid(gitgate.Kind(sealedSecretRequestKind), name, errs)
			}
			content, err := sealing.Marshal(ss)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			res, err := c.Engine.CommitSealedSecret(ctx, engine.SealedSecretWrite{
				Environment: name, Name: ss.Name, Namespace: ss.Namespace, Content: content,
				Overwrite: req.Spec.Overwrite, Message: req.Spec.Message,
				User: c.User, DryRun: c.DryRun, FreezeOverride: override,
			})
			if err != nil {
				return nil, err
			}
			out := req.DeepCopy()
			out.Status = gitgate.SealedSecretRequestStatus{Branch: res.Branch, Path: res.Path, Commit: res.Commit, Replaced: res.Replaced}
			return out, nil
		},
	})
}
