package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// ApprovalRequest is one user's decision on a proposed promotion.
type ApprovalRequest struct {
	// Promotion names the promotion.
	Promotion string
	// User is the authenticated Kubernetes user, written as Approved-By or
	// Rejected-By.
	User string
	// Decision is approve or reject.
	Decision gitgate.ApprovalDecision
	// Message is added to the decision's commit message.
	Message string
	// DryRun checks the decision without writing anything.
	DryRun bool
}

// ApprovalResult says what a decision did.
type ApprovalResult struct {
	// Promotion is the promotion afterwards.
	Promotion *gitgate.Promotion
	// Commit records the decision; zero when it repeated the user's
	// earlier one, or for a dry run.
	Commit gitstore.Hash
	// Landed is the commit that landed the promotion, when this decision
	// completed the quorum.
	Landed gitstore.Hash
	// Message says what happened, for people.
	Message string
}

// errNothingToWrite ends a write attempt that found its work done.
var errNothingToWrite = errors.New("nothing to write")

// Approve records a decision on a proposed promotion as a sealed commit
// on its review branch; an approval that completes the quorum then lands
// the promotion on its environment branch (landLocked). A repeated
// approval writes nothing, but still lands a promotion whose quorum is met
// (so a landing cut short by an outage is finished by approving again).
// Errors: *InvalidError (unknown decision, the author approving),
// ErrNotFound, *ConflictError (not Proposed, needs no approvals, not
// written by gitgate, the branch kept moving), *UnavailableError.
func (e *Engine) Approve(ctx context.Context, req ApprovalRequest) (*ApprovalResult, error) {
	if req.Decision != gitgate.ApprovalApprove && req.Decision != gitgate.ApprovalReject {
		return nil, invalid("Approval", req.Promotion, field.NotSupported(specPath.Child("decision"), req.Decision,
			[]string{string(gitgate.ApprovalApprove), string(gitgate.ApprovalReject)}))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	res := &ApprovalResult{}
	if req.DryRun {
		if _, _, err := e.decideLocked(req); err != nil {
			return nil, err
		}
		p, err := e.snap.Load().Promotion(req.Promotion)
		res.Promotion = p
		return res, err
	}
	err := e.writeLocked(ctx, func(s *Snapshot) (gitstore.PushRequest, error) {
		r, repeat, err := e.decideLocked(req)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		if repeat {
			return gitstore.PushRequest{}, errNothingToWrite
		}
		branch := r.promotion.Status.Branch
		head, ok := s.heads[branch]
		if !ok {
			return gitstore.PushRequest{}, &ConflictError{Message: fmt.Sprintf("review branch %s of promotion %s is gone: it cannot be approved", branch, req.Promotion)}
		}
		commit, err := e.decisionCommitLocked(r, head, req)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		res.Commit = commit
		return gitstore.PushRequest{Branch: branch, Old: head, New: commit}, nil
	})
	switch {
	case errors.Is(err, errNothingToWrite):
		res.Commit, res.Message = gitstore.ZeroHash, req.User+" approved this plan already; nothing was written"
	case err != nil:
		return nil, err
	default:
		res.Message = fmt.Sprintf("%s recorded as %s", decisionVerb(req.Decision), res.Commit.Short())
	}
	if req.Decision == gitgate.ApprovalApprove {
		if err := e.landLocked(ctx, req.Promotion, res); err != nil {
			return nil, err
		}
	}
	res.Promotion, err = e.snap.Load().Promotion(req.Promotion)
	return res, err
}

func decisionVerb(d gitgate.ApprovalDecision) string {
	if d == gitgate.ApprovalReject {
		return "rejection"
	}
	return "approval"
}

// decideLocked checks that req may be recorded, and reports whether it
// repeats the user's approval of the current plan.
func (e *Engine) decideLocked(req ApprovalRequest) (*record, bool, error) {
	r, ok := e.history.byName[req.Promotion]
	if !ok {
		return nil, false, notFound("promotion", req.Promotion)
	}
	p := r.promotion
	switch {
	case p.Status.ApprovalsRequired == 0:
		return nil, false, &ConflictError{Message: fmt.Sprintf("promotion %s needs no approvals (environment %s had no spec.approvals when it was proposed): it lands when its commit reaches branch %s",
			p.Name, p.Spec.Environment, r.target)}
	case !r.approval.sealed:
		return nil, false, &ConflictError{Message: fmt.Sprintf("promotion %s: commit %s was not written by gitgate (its %s trailer does not verify), so it cannot be approved; create a new promotion",
			p.Name, shortSHA(p.Status.Commit), TrailerSeal)}
	case p.Status.Phase != gitgate.PromotionProposed:
		return nil, false, &ConflictError{Message: fmt.Sprintf("promotion %s is %s: only a Proposed promotion can be approved or rejected", p.Name, p.Status.Phase)}
	case req.Decision == gitgate.ApprovalApprove && req.User == p.Status.PromotedBy:
		return nil, false, invalid("Approval", req.Promotion, field.Forbidden(field.NewPath("metadata", "name"), fmt.Sprintf(
			"%s created promotion %s and cannot approve it: approvals must come from %d other users", req.User, p.Name, p.Status.ApprovalsRequired)))
	}
	repeat := req.Decision == gitgate.ApprovalApprove && slices.ContainsFunc(p.Status.Approvals, func(a gitgate.ApprovalRecord) bool { return a.By == req.User })
	return r, repeat, nil
}

// decisionCommitLocked writes the sealed commit that records req on the
// review branch at head; it changes no file.
func (e *Engine) decisionCommitLocked(r *record, head gitstore.Hash, req ApprovalRequest) (gitstore.Hash, error) {
	by, subject := TrailerApprovedBy, "Approve promotion "
	if req.Decision == gitgate.ApprovalReject {
		by, subject = TrailerRejectedBy, "Reject promotion "
	}
	msg := formatMessage(subject+r.promotion.Name, req.Message, []trailer{
		{TrailerApproval, r.promotion.Name},
		{TrailerEnvironment, r.promotion.Spec.Environment},
		{TrailerPlan, r.approval.plan},
		{by, req.User},
	})
	return e.sealedCommitLocked([]gitstore.Hash{head}, gitstore.ZeroHash, nil, msg)
}

// landLocked lands a Proposed promotion whose quorum is met: it plans the
// promotion again on the environment branch's head (the write re-plans
// whenever the push finds the branch moved: compare-and-swap). When the
// plan is the approved one (same source revision, same changes), the
// commit lands on the environment branch with the approvals in its
// trailers. When it differs, the new plan is committed on the review
// branch instead: approvals start over and the promotion stays Proposed.
func (e *Engine) landLocked(ctx context.Context, name string, res *ApprovalResult) error {
	err := e.writeLocked(ctx, func(s *Snapshot) (gitstore.PushRequest, error) {
		r, ok := e.history.byName[name]
		if !ok {
			return gitstore.PushRequest{}, notFound("promotion", name)
		}
		p := r.promotion
		q := quorum{required: int(p.Status.ApprovalsRequired), approvals: len(p.Status.Approvals), rejections: len(p.Status.Rejections)}
		if p.Status.Phase != gitgate.PromotionProposed || !r.approval.sealed || !q.met() {
			return gitstore.PushRequest{}, errNothingToWrite
		}
		// A freeze holds a landing back like any promotion into the
		// environment: the approval stays recorded, and approving again
		// once the freeze ends lands it.
		if st, ok := s.envs[p.Spec.Environment]; ok && st.err == nil {
			if _, err := e.checkFreeze(st.env, "land approved promotion "+name+" into", nil); err != nil {
				return gitstore.PushRequest{}, err
			}
		}
		pl, err := e.plannerLocked().planOnto(s, p, false)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		required := trailer{TrailerApprovalsRequired, strconv.Itoa(int(p.Status.ApprovalsRequired))}
		if samePlan(p, pl) {
			extra := []trailer{required, {TrailerPlan, r.approval.plan}, {TrailerPlanRevision, strconv.Itoa(r.approval.planRevision)}}
			for _, a := range p.Status.Approvals {
				extra = append(extra, trailer{TrailerApprovedBy, a.By})
			}
			commit, err := e.commitPlanLocked(p, pl, p.Status.PromotedBy, extra...)
			if err != nil {
				return gitstore.PushRequest{}, err
			}
			res.Landed, res.Message = commit, fmt.Sprintf("approved by %d of %d: landed as %s on branch %s", q.approvals, q.required, commit.Short(), pl.branch)
			return gitstore.PushRequest{Branch: pl.branch, Old: pl.parent, New: commit}, nil
		}
		review := p.Status.Branch
		head, ok := s.heads[review]
		if !ok {
			return gitstore.PushRequest{}, &ConflictError{Message: fmt.Sprintf("review branch %s of promotion %s is gone: it cannot land", review, name)}
		}
		reason := fmt.Sprintf("branch %s moved to %s and the promotion's changes there are %s (approved: %s)",
			pl.target.Spec.Branch, pl.baseHead.Short(), changesText(pl.changes), changesText(p.Status.Changes))
		extra := []trailer{required, {TrailerPlanRevision, strconv.Itoa(r.approval.planRevision + 1)}, {TrailerReplanned, reason}}
		commit, err := e.sealPlanLocked(pl, &head, planMessage(p, pl, p.Status.PromotedBy, extra))
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		res.Landed, res.Message = gitstore.ZeroHash, "planned again as "+commit.Short()+": "+reason+"; approvals start over"
		return gitstore.PushRequest{Branch: review, Old: head, New: commit}, nil
	})
	if errors.Is(err, errNothingToWrite) {
		return nil
	}
	return err
}

// sealPlanLocked writes pl's commit, sealed. With review set, the plan is
// made again on top of the review branch's head: the commit's first parent
// is that head (so the branch keeps its approvals' history) and it merges
// the environment branch's head in, with the new plan's tree.
func (e *Engine) sealPlanLocked(pl *plan, review *gitstore.Hash, msg string) (gitstore.Hash, error) {
	parents := []gitstore.Hash{pl.parent}
	if pl.target.Spec.Strategy == gitgate.StrategyMerge {
		parents = append(parents, pl.sourceRev)
	}
	tree := pl.mergeTree // zero for Images: the parent's tree with the edits
	if review != nil {
		parents = append([]gitstore.Hash{*review}, parents...)
		if tree.IsZero() {
			var err error
			if tree, err = e.repo.TreeHash(pl.parent, ""); err != nil {
				return gitstore.ZeroHash, err
			}
		}
	}
	return e.sealedCommitLocked(parents, tree, pl.edits, msg)
}

// samePlan reports whether pl makes the changes p was approved for.
func samePlan(p *gitgate.Promotion, pl *plan) bool {
	return p.Status.SourceRevision == pl.sourceRev.String() && slices.Equal(p.Status.Changes, pl.changes)
}

func changesText(cs []gitgate.Change) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, formatChange(c))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// approvalsRequired is the trailer that a plan into target carries when
// target requires approvals.
func approvalsRequired(target *gitgate.Environment) []trailer {
	if target.Spec.Approvals == nil {
		return nil
	}
	return []trailer{{TrailerApprovalsRequired, strconv.Itoa(int(target.Spec.Approvals.Required))}}
}
