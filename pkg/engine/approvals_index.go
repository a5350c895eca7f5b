package engine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// Trailers of approvals.
const (
	// TrailerApproval names the promotion an approval or rejection commit decides on.
	TrailerApproval = "Gitgate-Approval"
	// TrailerPlan is the plan commit (the review branch's promotion commit)
	// that a decision, or a landing commit, is about.
	TrailerPlan = "Gitgate-Plan"
	// TrailerApprovedBy names the user who approved.
	TrailerApprovedBy = "Approved-By"
	// TrailerRejectedBy names the user who rejected.
	TrailerRejectedBy = "Rejected-By"
	// TrailerApprovalsRequired is how many approvals a plan needs.
	TrailerApprovalsRequired = "Gitgate-Approvals-Required"
	// TrailerPlanRevision counts a promotion's plans: 2 and up after the
	// environment branch moved and the promotion had to be planned again.
	TrailerPlanRevision = "Gitgate-Plan-Revision"
	// TrailerReplanned says why a promotion was planned again.
	TrailerReplanned = "Gitgate-Replanned"
)

// decision is one approval or rejection commit, as read from Git.
type decision struct {
	plan    string // the plan commit's SHA
	by      string
	approve bool
	time    time.Time
	message string
	sealed  bool // written by gitgate (its seal verifies)
}

// parseDecision reads an approval or rejection commit.
func parseDecision(c *gitstore.Commit, ts []trailer, sealed bool) decision {
	d := decision{plan: trailerValue(ts, TrailerPlan), time: c.Author.When, sealed: sealed}
	if by := trailerValue(ts, TrailerApprovedBy); by != "" {
		d.by, d.approve = by, true
	} else {
		d.by = trailerValue(ts, TrailerRejectedBy)
	}
	_, d.message = subjectAndBody(c.Message)
	return d
}

// tally applies the approval rules to the decisions recorded for a
// promotion: only decisions gitgate wrote count; approvals count for the
// current plan only, one per user (the earliest), never the author's;
// rejections count whatever plan they were given on, one per user.
func tally(plan, author string, ds []decision) (approvals, rejections []gitgate.ApprovalRecord) {
	sorted := append([]decision(nil), ds...)
	sort.SliceStable(sorted, func(i, j int) bool { // every replica, whatever order Git gave
		if !sorted[i].time.Equal(sorted[j].time) {
			return sorted[i].time.Before(sorted[j].time)
		}
		return sorted[i].by < sorted[j].by
	})
	approved, rejected := map[string]bool{}, map[string]bool{}
	for _, d := range sorted {
		if !d.sealed || d.by == "" {
			continue
		}
		t := metav1.NewTime(d.time)
		rec := gitgate.ApprovalRecord{By: d.by, Time: &t, Message: d.message}
		switch {
		case !d.approve && !rejected[d.by]:
			rejected[d.by] = true
			rejections = append(rejections, rec)
		case d.approve && d.plan == plan && d.by != author && !approved[d.by]:
			approved[d.by] = true
			approvals = append(approvals, rec)
		}
	}
	return approvals, rejections
}

// quorum says where a promotion stands: met once required approvals
// count and nobody rejected it.
type quorum struct {
	required, approvals, rejections int
}

func (q quorum) met() bool      { return q.rejections == 0 && q.required > 0 && q.approvals >= q.required }
func (q quorum) rejected() bool { return q.rejections > 0 }
func (q quorum) needed() int    { return max(q.required-q.approvals, 0) }

// approvalState is what a record knows of approvals beyond the promotion.
type approvalState struct {
	plan         string // the plan commit approvals must name
	planRevision int
	sealed       bool // the promotion's commit was written by gitgate
	replanned    string
	rejected     bool
}

// planFacts reads the approval facts of a promotion commit.
func planFacts(c *gitstore.Commit, ts []trailer, sealed bool) (approvalState, int32) {
	st := approvalState{plan: c.Hash.String(), planRevision: 1, sealed: sealed, replanned: trailerValue(ts, TrailerReplanned)}
	if p := trailerValue(ts, TrailerPlan); p != "" {
		st.plan = p // a landing commit names the plan it lands
	}
	if n, err := strconv.Atoi(trailerValue(ts, TrailerPlanRevision)); err == nil && n > 0 {
		st.planRevision = n
	}
	required := 0
	if n, err := strconv.Atoi(trailerValue(ts, TrailerApprovalsRequired)); err == nil && n > 0 {
		required = n
	}
	return st, int32(required)
}

// wantsApprovals reports whether a promotion commit says it needs approvals.
func wantsApprovals(ts []trailer) bool { return trailerValue(ts, TrailerApprovalsRequired) != "" }

// addDecision indexes an approval or rejection commit and updates its
// promotion, when known.
func (h *history) addDecision(c *gitstore.Commit, ts []trailer, name string) {
	h.decisions[name] = append(h.decisions[name], parseDecision(c, ts, h.verify != nil && h.verify(c)))
	if r, ok := h.byName[name]; ok {
		cp := r.promotion.DeepCopy()
		h.applyApprovals(r, cp)
		h.replace(r, cp)
		h.track(r)
		h.version++
	}
}

// applyApprovals fills p's approvals, its Rejected phase and its Approved
// condition from the decisions recorded for it.
func (h *history) applyApprovals(r *record, p *gitgate.Promotion) {
	if p.Status.ApprovalsRequired == 0 {
		return
	}
	p.Status.Approvals, p.Status.Rejections = tally(r.approval.plan, p.Status.PromotedBy, h.decisions[p.Name])
	q := quorum{required: int(p.Status.ApprovalsRequired), approvals: len(p.Status.Approvals), rejections: len(p.Status.Rejections)}
	r.approval.rejected = q.rejected()
	if q.rejected() && p.Status.Phase == gitgate.PromotionProposed {
		p.Status.Phase = gitgate.PromotionRejected
	}
	setPhaseCondition(p)
	setCondition(p, approvedCondition(p, r.approval, q))
}

// approvedCondition says where the approvals of p stand, for people.
func approvedCondition(p *gitgate.Promotion, st approvalState, q quorum) metav1.Condition {
	c := metav1.Condition{Type: gitgate.ConditionApproved, LastTransitionTime: *p.Status.Time}
	var who []string
	for _, a := range p.Status.Approvals {
		who = append(who, a.By)
	}
	switch {
	case !st.sealed:
		c.Status, c.Reason = metav1.ConditionFalse, gitgate.ReasonUnverified
		c.Message = "commit " + shortSHA(p.Status.Commit) + " was not written by gitgate (its seal does not verify): it cannot be approved; create a new promotion"
	case q.rejected():
		c.Status, c.Reason = metav1.ConditionFalse, gitgate.ReasonRejected
		c.Message = fmt.Sprintf("rejected by %s: %s", p.Status.Rejections[0].By, firstNonEmpty(p.Status.Rejections[0].Message, "no reason given"))
	case q.met():
		c.Status, c.Reason = metav1.ConditionTrue, gitgate.ReasonQuorumMet
		c.Message = fmt.Sprintf("approved by %s (%d of %d)", strings.Join(who, ", "), q.approvals, q.required)
	default:
		c.Status, c.Reason = metav1.ConditionUnknown, gitgate.ReasonAwaitingApprovals
		if st.replanned != "" && q.approvals == 0 {
			c.Reason = gitgate.ReasonReplanned
		}
		excluded := append([]string{p.Status.PromotedBy + " (the author)"}, who...)
		c.Message = fmt.Sprintf("%d of %d approvals; %d more needed from users with the verb approve on environment %s, other than %s",
			q.approvals, q.required, q.needed(), p.Spec.Environment, strings.Join(excluded, ", "))
		if st.replanned != "" {
			c.Message = "planned again: " + st.replanned + "; approvals of the earlier plan no longer count. " + c.Message
		}
	}
	return c
}

// setCondition replaces or adds c among p's conditions.
func setCondition(p *gitgate.Promotion, c metav1.Condition) {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == c.Type {
			p.Status.Conditions[i] = c
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, c)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
