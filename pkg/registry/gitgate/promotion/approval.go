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
type ApprovalREST struct{ registry.VerbSubresource }

var _ rest.NamedCreater = &ApprovalREST{}

// NewApprovalREST returns the approval subresource's storage; authz checks
// the approve verb on the promotion's target environment.
func NewApprovalREST(backend *registry.Backend, authz authorizer.Authorizer) *ApprovalREST {
	return &ApprovalREST{registry.VerbSubresource{Backend: backend, Authorizer: authz, Resource: resource, Kind: approvalKind,
		Verb: VerbApprove, NewFunc: func() runtime.Object { return &gitgate.Approval{} }}}
}

// Create checks the approve verb on the target environment and that the
// user is not the promotion's author, then records the decision
// synchronously (and lands the promotion when it completes the quorum).
func (r *ApprovalREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*gitgate.Approval)
	var p *gitgate.Promotion
	return r.Perform(ctx, name, obj, createValidation, opts, registry.VerbCreate{
		Action: "approve promotions into",
		Environment: func(e *engine.Engine) (string, error) {
			var err error
			if p, err = e.Snapshot().Promotion(name); err != nil {
				return "", registry.StatusError(err, resource, "Promotion", name)
			}
			return p.Spec.Environment, nil
		},
		Check: func(c registry.VerbCall) error {
			if req.Spec.Decision == gitgate.ApprovalApprove && c.User == p.Status.PromotedBy {
				return apierrors.NewForbidden(resource, name, fmt.Errorf(
					"user %q created promotion %q and cannot approve it: approvals must come from other users (%d needed)", c.User, name, p.Status.ApprovalsRequired))
			}
			return nil
		},
		Apply: func(c registry.VerbCall) (runtime.Object, error) {
			res, err := c.Engine.Approve(ctx, engine.ApprovalRequest{
				Promotion: name, User: c.User, Decision: req.Spec.Decision, Message: req.Spec.Message, DryRun: c.DryRun,
			})
			if err != nil {
				return nil, err
			}
			out := req.DeepCopy()
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
		},
	})
}
