package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// PromotionRequest asks for one promotion.
type PromotionRequest struct {
	// Promotion carries the name and spec; its status is ignored.
	Promotion *gitgate.Promotion
	// User is the authenticated Kubernetes user, written as Promoted-By.
	User string
	// DryRun plans without writing anything.
	DryRun bool
	// FreezeOverride, when set, passes a freeze of the target environment.
	FreezeOverride *FreezeOverride
}

// Promote plans and commits a promotion and returns it as read back from
// Git (or, for a dry run, as planned). Errors: *InvalidError (nothing to
// promote, unknown environment or image, tag pattern), ErrAlreadyExists,
// *ConflictError (Merge target diverged, or the branch kept moving),
// *UnavailableError (remote unreachable).
func (e *Engine) Promote(ctx context.Context, req PromotionRequest) (*gitgate.Promotion, error) {
	p := req.Promotion
	if errs := validation.ValidatePromotionSpec(p.Name, &p.Spec); len(errs) > 0 {
		return nil, &InvalidError{Kind: "Promotion", Name: p.Name, Errors: errs}
	}
	var planned *plan
	err := e.write(ctx, req.DryRun, func(s *Snapshot) (gitstore.PushRequest, error) {
		if err := checkNameFree(s, p.Name); err != nil {
			return gitstore.PushRequest{}, err
		}
		frozen, err := e.checkTargetFreeze(s, p, req.FreezeOverride)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		pl, err := e.plannerLocked().plan(s, p)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		pl.freeze = frozen
		planned = pl
		commit, err := e.commitPlanLocked(p, pl, req.User, approvalsRequired(pl.target)...)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		old := pl.parent
		if pl.branch != pl.target.Spec.Branch {
			old = gitstore.ZeroHash // a new review branch
		}
		return gitstore.PushRequest{Branch: pl.branch, Old: old, New: commit}, nil
	})
	if err != nil {
		return nil, err
	}
	if req.DryRun {
		return plannedPromotion(p, planned, req.User), nil
	}
	return e.snap.Load().Promotion(p.Name)
}

func checkNameFree(s *Snapshot, name string) error {
	if _, err := s.Promotion(name); err == nil {
		return fmt.Errorf("promotion %q: %w", name, ErrAlreadyExists)
	}
	return nil
}

// commitPlanLocked writes the plan's commit into the mirror, with extra
// trailers after Promoted-By. Into an environment with approvals, the
// commit is sealed (approvals_seal.go).
func (e *Engine) commitPlanLocked(p *gitgate.Promotion, pl *plan, user string, extra ...trailer) (gitstore.Hash, error) {
	msg := planMessage(p, pl, user, extra)
	if pl.target.Spec.Approvals != nil {
		return e.sealPlanLocked(pl, nil, msg)
	}
	sig := e.signature()
	if pl.target.Spec.Strategy == gitgate.StrategyMerge {
		return e.repo.CreateCommit([]gitstore.Hash{pl.parent, pl.sourceRev}, pl.mergeTree, nil, msg, sig, sig)
	}
	return e.repo.CreateCommit([]gitstore.Hash{pl.parent}, gitstore.ZeroHash, pl.edits, msg, sig, sig)
}

// planMessage is the commit message of a plan: subject, the promotion's
// message, and its trailers, extra after Promoted-By.
func planMessage(p *gitgate.Promotion, pl *plan, user string, extra []trailer) string {
	trailers := []trailer{
		{TrailerPromotion, p.Name},
		{TrailerEnvironment, pl.target.Name},
		{TrailerBranch, pl.target.Spec.Branch},
		{TrailerFrom, pl.source.Name + "@" + pl.sourceRev.String()},
	}
	if len(p.Spec.Images) > 0 {
		trailers = append(trailers, trailer{TrailerImages, strings.Join(p.Spec.Images, ",")})
	}
	for _, ch := range pl.changes {
		trailers = append(trailers, trailer{TrailerChange, formatChange(ch)})
	}
	trailers = append(trailers, pl.freeze...)
	trailers = append(trailers, trailer{TrailerPromotedBy, user})
	trailers = append(trailers, extra...)
	subject := fmt.Sprintf("Promote %s@%s into %s", pl.source.Name, pl.sourceRev.Short(), pl.target.Name)
	return formatMessage(subject, p.Spec.Message, trailers)
}

// plannedPromotion is what a dry run returns: the request with the changes
// it would make.
func plannedPromotion(p *gitgate.Promotion, pl *plan, user string) *gitgate.Promotion {
	out := p.DeepCopy()
	out.Spec.From = pl.source.Name
	out.Status = gitgate.PromotionStatus{
		Phase:          gitgate.PromotionSucceeded,
		Branch:         pl.branch,
		SourceRevision: pl.sourceRev.String(),
		Changes:        pl.changes,
		PromotedBy:     user,
	}
	if a := pl.target.Spec.Approvals; a != nil {
		out.Status.ApprovalsRequired = a.Required
	}
	if pl.branch != pl.target.Spec.Branch {
		out.Status.Phase = gitgate.PromotionProposed
	}
	return out
}
