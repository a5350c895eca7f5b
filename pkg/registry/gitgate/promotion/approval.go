package promotion

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/registry"
)

// VerbApprove is the custom verb a user needs on environments/<target> to
// approve or reject a promotion into it.
const VerbApprove = "approve"

// approvalKind names the subresource's kind in errors.
const approvalKind = "Approval"

// ApprovalREST serves promotions/<name>/approval: a create records an
// approval or rejection of a Proposed promotion as a commit on its review
// branch, and lands the promotion once enough users approved it.
type ApprovalREST struct {
	backend    *registry.Backend
	authorizer authorizer.Authorizer
}

var (
	_ rest.Storage      = &ApprovalREST{}
	_ rest.NamedCreater = &ApprovalREST{}
)

// NewApprovalREST returns the approval subresource's storage; authz checks
// the approve verb on the promotion's target environment.
func NewApprovalREST(backend *registry.Backend, authz authorizer.Authorizer) *ApprovalREST {
	return &ApprovalREST{backend: backend, authorizer: authz}
}

func (r *ApprovalREST) New() runtime.Object { return &gitgate.Approval{} }
func (r *ApprovalREST) Destroy()            {}

// Create checks the approve verb on the target environment and that the
// user is not the promotion's author, then records the decision
// synchronously (and lands the promotion when it completes the quorum).
func (r *ApprovalREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*gitgate.Approval)
	e, ns, err := r.backend.EngineFor(ctx, resource, name)
	if err != nil {
		return nil, err
	}
	p, err := e.Snapshot().Promotion(name)
	if err != nil {
		return nil, registry.StatusError(err, resource, "Promotion", name)
	}
	if err := registry.AuthorizeEnvironmentVerb(ctx, r.authorizer, resource, VerbApprove, "approve promotions into", ns, p.Spec.Environment); err != nil {
		return nil, err
	}
	user := registry.UserName(ctx)
	if req.Spec.Decision == gitgate.ApprovalApprove && user == p.Status.PromotedBy {
		return nil, apierrors.NewForbidden(resource, name, fmt.Errorf(
			"user %q created promotion %q and cannot approve it: approvals must come from other users (%d needed)", user, name, p.Status.ApprovalsRequired))
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj); err != nil {
			return nil, err
		}
	}
	res, err := e.Approve(ctx, engine.ApprovalRequest{
		Promotion: name, User: user, Decision: req.Spec.Decision, Message: req.Spec.Message,
		DryRun: registry.IsDryRun(opts.DryRun),
	})
	if err != nil {
		return nil, registry.StatusError(err, resource, approvalKind, name)
	}
	out := req.DeepCopy()
	out.Name, out.Namespace = name, ns
	out.Status = gitgate.ApprovalStatus{
		Phase:     res.Promotion.Status.Phase,
		Approvals: int32(len(res.Promotion.Status.Approvals)),
		Required:  res.Promotion.Status.ApprovalsRequired,
		Message:   res.Message,
	}
	if !res.Commit.IsZero() {
		out.Status.Commit = res.Commit.String()
	}
	if !res.Landed.IsZero() {
		out.Status.LandedCommit = res.Landed.String()
	}
	return out, nil
}
