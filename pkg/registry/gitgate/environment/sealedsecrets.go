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
type SealedSecretsREST struct {
	backend    *registry.Backend
	authorizer authorizer.Authorizer
}

var (
	_ rest.Storage      = &SealedSecretsREST{}
	_ rest.NamedCreater = &SealedSecretsREST{}
)

// NewSealedSecretsREST returns the sealedsecrets subresource's storage;
// authz checks the seal verb on the environment.
func NewSealedSecretsREST(backend *registry.Backend, authz authorizer.Authorizer) *SealedSecretsREST {
	return &SealedSecretsREST{backend: backend, authorizer: authz}
}

func (r *SealedSecretsREST) New() runtime.Object { return &gitgate.SealedSecretRequest{} }
func (r *SealedSecretsREST) Destroy()            {}

// Create checks the seal verb, checks that the SealedSecret holds only
// ciphertext for the environment's namespace, and commits it synchronously.
func (r *SealedSecretsREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*gitgate.SealedSecretRequest)
	e, ns, err := r.backend.EngineFor(ctx, resource, name)
	if err != nil {
		return nil, err
	}
	if err := registry.AuthorizeEnvironmentVerb(ctx, r.authorizer, resource, VerbSeal, "seal secrets into", ns, name); err != nil {
		return nil, err
	}
	override, err := registry.FreezeOverride(ctx, r.authorizer, resource, sealedSecretRequestKind, name, req.Annotations, ns, name)
	if err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj); err != nil {
			return nil, err
		}
	}
	env, err := e.Snapshot().Environment(name)
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
	res, err := e.CommitSealedSecret(ctx, engine.SealedSecretWrite{
		Environment: name, Name: ss.Name, Namespace: ss.Namespace, Content: content,
		Overwrite: req.Spec.Overwrite, Message: req.Spec.Message,
		User: registry.UserName(ctx), DryRun: registry.IsDryRun(opts.DryRun), FreezeOverride: override,
	})
	if err != nil {
		return nil, registry.StatusError(err, resource, sealedSecretRequestKind, name)
	}
	out := req.DeepCopy()
	out.Name, out.Namespace = name, ns
	out.Status = gitgate.SealedSecretRequestStatus{Branch: res.Branch, Path: res.Path, Commit: res.Commit, Replaced: res.Replaced}
	return out, nil
}
