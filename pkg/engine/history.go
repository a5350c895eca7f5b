package engine

import (
	"maps"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// ReviewBranchPrefix starts the branch that a reviewed promotion waits on.
const ReviewBranchPrefix = "gitgate/promotions/"

// history indexes promotion commits by name, built incrementally from the
// commits each refresh discovers.
type history struct {
	byName map[string]*record
	// version counts changes, so snapshots rebuild their lists only then.
	version int
	// all holds every promotion and byEnv each environment's (timeline.go);
	// pending the records not Succeeded; latest each environment's newest
	// success. They keep a write's cost independent of how many promotions
	// history holds.
	all     timeline
	byEnv   map[string]*timeline
	pending map[string]*record
	latest  map[string]metav1.Time
	// changed names the records added or changed since takeChanges; full
	// means every record is to be taken as changed (a new history).
	changed map[string]struct{}
	full    bool
	// decisions are the approval and rejection commits, by promotion
	// (approvals_index.go); verify says whether gitgate wrote a commit.
	decisions map[string][]decision
	verify    func(*gitstore.Commit) bool
}

type record struct {
	promotion *gitgate.Promotion // replaced, never mutated, once published
	commit    gitstore.Hash
	target    string // the environment branch
	approval  approvalState
}

func newHistory() *history {
	return &history{byName: map[string]*record{}, byEnv: map[string]*timeline{}, pending: map[string]*record{}, latest: map[string]metav1.Time{},
		changed: map[string]struct{}{}, full: true, decisions: map[string][]decision{}}
}

// takeChanges returns the promotions added or changed since the last call,
// oldest first, or false when the whole history is new.
func (h *history) takeChanges() ([]*gitgate.Promotion, bool) {
	defer func() { h.changed, h.full = map[string]struct{}{}, false }()
	if h.full {
		return nil, false
	}
	out := make([]*gitgate.Promotion, 0, len(h.changed))
	recs := make([]*record, 0, len(h.changed))
	for name := range h.changed {
		recs = append(recs, h.byName[name])
	}
	sort.Slice(recs, func(i, j int) bool { return newer(recs[j], recs[i]) })
	for _, r := range recs {
		out = append(out, r.promotion)
	}
	return out, true
}

// newer orders records newest first, by name when equally new.
func newer(a, b *record) bool { return newerPromotion(a.promotion, b.promotion) }

// put records r (replacing old, when not nil) in the timelines, pending and
// latest.
func (h *history) put(r, old *record) {
	if old != nil {
		h.all.remove(old.promotion)
		h.env(old.promotion.Spec.Environment).remove(old.promotion)
	}
	h.all.insert(r.promotion)
	h.env(r.promotion.Spec.Environment).insert(r.promotion)
	h.track(r)
}

// replace publishes cp, a changed copy of r's promotion at the same place
// in time, in r and the timelines.
func (h *history) replace(r *record, cp *gitgate.Promotion) {
	h.all.remove(r.promotion)
	h.env(r.promotion.Spec.Environment).remove(r.promotion)
	r.promotion = cp
	h.all.insert(cp)
	h.env(cp.Spec.Environment).insert(cp)
}

// env is environment's timeline.
func (h *history) env(environment string) *timeline {
	t, ok := h.byEnv[environment]
	if !ok {
		t = &timeline{}
		h.byEnv[environment] = t
	}
	return t
}

// track files r under pending or, once Succeeded, under latest, and as
// changed.
func (h *history) track(r *record) {
	p := r.promotion
	h.changed[p.Name] = struct{}{}
	if p.Status.Phase != gitgate.PromotionSucceeded {
		h.pending[p.Name] = r
		return
	}
	delete(h.pending, p.Name)
	if t, ok := h.latest[p.Spec.Environment]; !ok || t.Before(p.Status.Time) {
		h.latest[p.Spec.Environment] = *p.Status.Time
	}
}

// add indexes c when it carries promotion trailers; branch is where the
// walk found it first.
func (h *history) add(c *gitstore.Commit, branch string) {
	ts := parseTrailers(c.Message)
	if name := trailerValue(ts, TrailerApproval); name != "" {
		h.addDecision(c, ts, name)
		return
	}
	name := trailerValue(ts, TrailerPromotion)
	if name == "" {
		return
	}
	target := trailerValue(ts, TrailerBranch)
	phase := gitgate.PromotionProposed
	if branch == target || !strings.HasPrefix(branch, ReviewBranchPrefix) {
		phase = gitgate.PromotionSucceeded
	}
	facts, required := planFacts(c, ts, wantsApprovals(ts) && h.verify != nil && h.verify(c))
	if old, ok := h.byName[name]; ok {
		// The same promotion again: a squash- or rebase-merged review
		// commit landing on the environment branch, or gitgate's landing
		// of an approved one; or a later plan of it (approvals_index.go).
		oldDone, done := old.promotion.Status.Phase == gitgate.PromotionSucceeded, phase == gitgate.PromotionSucceeded
		if oldDone && !done || oldDone == done && facts.planRevision <= old.approval.planRevision {
			return
		}
	}
	from, rev, _ := strings.Cut(trailerValue(ts, TrailerFrom), "@")
	_, body := subjectAndBody(c.Message)
	when := metav1.NewTime(c.Author.When)
	p := &gitgate.Promotion{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			CreationTimestamp: metav1.NewTime(c.Author.When),
			UID:               uidFor(c.Hash),
		},
		Spec: gitgate.PromotionSpec{
			Environment: trailerValue(ts, TrailerEnvironment),
			From:        from,
			Revision:    rev,
			Message:     body,
		},
		Status: gitgate.PromotionStatus{
			Phase:          phase,
			Commit:         c.Hash.String(),
			Branch:         branch,
			SourceRevision: rev,
			PromotedBy:     trailerValue(ts, TrailerPromotedBy),
			Time:           &when,

			ApprovalsRequired: required,
		},
	}
	for _, v := range trailerValues(ts, TrailerChange) {
		if ch, ok := parseChange(v); ok {
			p.Status.Changes = append(p.Status.Changes, ch)
		}
	}
	if images := trailerValue(ts, TrailerImages); images != "" {
		p.Spec.Images = strings.Split(images, ",")
	}
	if phase == gitgate.PromotionSucceeded {
		p.Status.Branch = target
	}
	setPhaseCondition(p)
	r := &record{promotion: p, commit: c.Hash, target: target, approval: facts}
	h.applyApprovals(r, p)
	h.put(r, h.byName[name])
	h.byName[name] = r
	h.version++
}

// settle marks proposed promotions whose commit the environment branch now
// contains as Succeeded, and those overtaken by a later success as Superseded.
func (h *history) settle(repo *gitstore.Repository, heads map[string]gitstore.Hash) error {
	latest := maps.Clone(h.latest) // environment -> newest success
	var changed []*record
	defer func() {
		for _, r := range changed {
			h.track(r)
		}
	}()
	for _, r := range h.pending {
		p := r.promotion
		next := p.Status.Phase
		if head, ok := heads[r.target]; ok {
			merged, err := repo.IsAncestor(r.commit, head)
			if err != nil {
				return err
			}
			if merged {
				next = gitgate.PromotionSucceeded
			}
		}
		if next != gitgate.PromotionSucceeded {
			if t, ok := latest[p.Spec.Environment]; r.approval.rejected {
				next = gitgate.PromotionRejected
			} else if ok && p.Status.Time.Before(&t) {
				next = gitgate.PromotionSuperseded
			} else {
				next = gitgate.PromotionProposed
			}
		}
		if next != p.Status.Phase {
			cp := p.DeepCopy()
			cp.Status.Phase = next
			if next == gitgate.PromotionSucceeded {
				cp.Status.Branch = r.target
			}
			setPhaseCondition(cp)
			h.applyApprovals(r, cp)
			h.replace(r, cp)
			changed = append(changed, r)
			h.version++
		}
	}
	return nil
}

// views are the timelines as they are now, for a snapshot: every promotion
// and each environment's, oldest first. They cost a copy of the
// environments' map, not of history.
func (h *history) views() (promotionSeq, map[string]promotionSeq) {
	byEnv := make(map[string]promotionSeq, len(h.byEnv))
	for env, t := range h.byEnv {
		byEnv[env] = t.view()
	}
	return h.all.view(), byEnv
}

func setPhaseCondition(p *gitgate.Promotion) {
	cond := metav1.Condition{Type: gitgate.ConditionSucceeded, LastTransitionTime: *p.Status.Time}
	switch p.Status.Phase {
	case gitgate.PromotionSucceeded:
		cond.Status, cond.Reason = metav1.ConditionTrue, gitgate.ReasonPromoted
		cond.Message = "commit " + shortSHA(p.Status.Commit) + " is on branch " + p.Status.Branch
	case gitgate.PromotionProposed:
		cond.Status, cond.Reason = metav1.ConditionUnknown, gitgate.ReasonAwaitingReview
		cond.Message = "commit " + shortSHA(p.Status.Commit) + " waits on branch " + p.Status.Branch + "; merge it through a pull request"
		if p.Status.ApprovalsRequired > 0 {
			cond.Reason = gitgate.ReasonAwaitingApprovals
			cond.Message = "commit " + shortSHA(p.Status.Commit) + " waits on branch " + p.Status.Branch +
				" for approvals (kubectl gitgate approve " + p.Name + "); see the Approved condition"
		}
	case gitgate.PromotionSuperseded:
		cond.Status, cond.Reason = metav1.ConditionFalse, gitgate.ReasonSuperseded
		cond.Message = "a later promotion into " + p.Spec.Environment + " succeeded before this one was merged"
	case gitgate.PromotionRejected:
		cond.Status, cond.Reason = metav1.ConditionFalse, gitgate.ReasonRejected
		cond.Message = "rejected; it will not land (see the Approved condition): create a new promotion to try again"
	}
	setCondition(p, cond)
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// branchOrder walks the default branch first, then other branches, then
// review branches, so a commit is attributed to the most final branch.
func branchOrder(heads map[string]gitstore.Hash, defaultBranch string) []string {
	names := make([]string, 0, len(heads))
	for b := range heads {
		names = append(names, b)
	}
	rank := func(b string) int {
		switch {
		case b == defaultBranch:
			return 0
		case strings.HasPrefix(b, ReviewBranchPrefix):
			return 2
		}
		return 1
	}
	sort.Slice(names, func(i, j int) bool {
		if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}
