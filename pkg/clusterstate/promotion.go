package clusterstate

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// PromotionState is what the cluster says of a promotion's commit: its
// Applied and Healthy conditions and when it was applied. It is derived
// when the Promotion is read, never stored.
type PromotionState struct {
	Applied, Healthy metav1.Condition
	// AppliedAt is set once Applied is True.
	AppliedAt *metav1.Time
}

// Contains reports whether a Flux revision (main@sha1:<commit>) is the
// commit it was asked about or one of its descendants.
type Contains func(revision string) bool

// DerivePromotion computes a promotion's state from the Flux Kustomization
// of its target environment (nil when it names none, kustName empty, or it
// is not known). committed is the promotion commit's time: Flux's history
// is keyed by manifests, not commits, so a promotion whose commit left the
// manifests as they were cannot have been applied before it was made.
//
//   - Applied is True once lastAppliedRevision contains the commit; False
//     (Failed, Flux's message) while the Kustomization is Ready=False for
//     a revision that contains it; else Unknown (Progressing).
//   - Healthy is True while the Kustomization is Ready at such a revision
//     (Ready=True comes only after the health checks passed), and stays
//     True while Flux reconciles it again; False (Failed) while it is
//     Ready=False for a revision that contains the commit; else Unknown.
func DerivePromotion(k *Kustomization, kustName string, committed time.Time, contains Contains) PromotionState {
	since := metav1.NewTime(committed)
	if k == nil {
		msg := "the target environment names no spec.fluxKustomization, so gitgate cannot tell when Flux applies the promotion"
		if kustName != "" {
			msg = "Flux Kustomization " + kustName + " is not found: not created yet, or Flux is not installed"
		}
		c := metav1.Condition{Status: metav1.ConditionUnknown, Reason: v1alpha1.ReasonNoKustomization, Message: msg, LastTransitionTime: since}
		applied, healthy := c, c
		applied.Type, healthy.Type = v1alpha1.ConditionApplied, v1alpha1.ConditionHealthy
		return PromotionState{Applied: applied, Healthy: healthy}
	}
	has := func(rev string) bool { return rev != "" && contains(rev) }
	applied, attempted := has(k.AppliedRevision), has(k.AttemptedRevision)
	var last *Reconciled // Flux's newest reconciliation, if it is of a revision with the commit
	if len(k.History) > 0 && has(k.History[0].Revision) {
		last = &k.History[0]
	}
	readySince := metav1.NewTime(k.ReadySince)
	if k.ReadySince.Before(committed) {
		readySince = since
	}
	failed := k.ReadyStatus == metav1.ConditionFalse && (applied || attempted)
	failMessage := fmt.Sprintf("Flux Kustomization %s is not Ready at %s (%s): %s", kustName, k.AttemptedRevision, k.ReadyReason, k.Message)
	if !failed && k.ReadyStatus != metav1.ConditionTrue && last != nil && !last.Succeeded() {
		// Reconciling again after a failure: the failure stands until then.
		failed = true
		failMessage = fmt.Sprintf("Flux Kustomization %s: the last reconciliation of %s ended %s; Flux is trying again", kustName, last.Revision, last.Status)
	}
	progressing := "waiting for Flux Kustomization " + kustName + " to apply a revision that contains the commit"
	if k.AttemptedRevision != "" {
		progressing += "; it last reconciled " + k.AttemptedRevision
	}

	var s PromotionState
	switch {
	case applied:
		at := appliedAt(k, committed, has)
		s.AppliedAt = &at
		s.Applied = metav1.Condition{Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonApplied, LastTransitionTime: at,
			Message: "Flux Kustomization " + kustName + " applied " + k.AppliedRevision}
	case failed:
		s.Applied = metav1.Condition{Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonFailed, Message: failMessage, LastTransitionTime: readySince}
	default:
		s.Applied = metav1.Condition{Status: metav1.ConditionUnknown, Reason: v1alpha1.ReasonProgressing, Message: progressing, LastTransitionTime: since}
	}
	switch {
	case failed:
		s.Healthy = metav1.Condition{Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonFailed, Message: failMessage, LastTransitionTime: readySince}
	case applied && (k.Ready || last != nil && last.Succeeded()):
		s.Healthy = metav1.Condition{Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonHealthy, LastTransitionTime: *s.AppliedAt,
			Message: "Flux Kustomization " + kustName + " is Ready at " + k.AppliedRevision + " (its health checks passed)"}
	case applied:
		s.Healthy = metav1.Condition{Status: metav1.ConditionUnknown, Reason: v1alpha1.ReasonProgressing, LastTransitionTime: *s.AppliedAt,
			Message: "Flux Kustomization " + kustName + " applied the commit and is not Ready yet: " + k.Message}
	default:
		s.Healthy = metav1.Condition{Status: metav1.ConditionUnknown, Reason: v1alpha1.ReasonProgressing, Message: progressing, LastTransitionTime: since}
	}
	s.Applied.Type, s.Healthy.Type = v1alpha1.ConditionApplied, v1alpha1.ConditionHealthy
	return s
}

// appliedAt is when Flux first reconciled, successfully, manifests of a
// revision that contains the commit (its status.history), never before the
// commit was made; when the history has none, when it became Ready.
func appliedAt(k *Kustomization, committed time.Time, has func(string) bool) metav1.Time {
	var at time.Time
	for _, h := range k.History {
		if h.Succeeded() && has(h.Revision) && (at.IsZero() || h.First.Before(at)) {
			at = h.First
		}
	}
	if at.IsZero() {
		at = k.ReadySince
	}
	if at.Before(committed) {
		at = committed
	}
	return metav1.NewTime(at)
}

// Transition is one Event a change of a promotion's state calls for.
type Transition struct {
	// Reason is Applied, Healthy or Failed; Warning is set for Failed.
	Reason, Message string
	Warning         bool
}

// Transitions lists the Events a change of state from before to after
// calls for: Applied and Healthy when they become True, Failed when either
// becomes Failed.
func Transitions(before, after PromotionState) []Transition {
	var out []Transition
	isFailed := func(s PromotionState) bool {
		return s.Applied.Reason == v1alpha1.ReasonFailed || s.Healthy.Reason == v1alpha1.ReasonFailed
	}
	if isFailed(after) && !isFailed(before) {
		msg := after.Applied.Message
		if after.Applied.Reason != v1alpha1.ReasonFailed {
			msg = after.Healthy.Message
		}
		out = append(out, Transition{Reason: v1alpha1.ReasonFailed, Message: msg, Warning: true})
	}
	if after.Applied.Status == metav1.ConditionTrue && before.Applied.Status != metav1.ConditionTrue {
		out = append(out, Transition{Reason: v1alpha1.ReasonApplied, Message: after.Applied.Message})
	}
	if after.Healthy.Status == metav1.ConditionTrue && before.Healthy.Status != metav1.ConditionTrue {
		out = append(out, Transition{Reason: v1alpha1.ReasonHealthy, Message: after.Healthy.Message})
	}
	return out
}

// Same reports whether two states show the same to a reader (conditions
// and appliedAt), so that a watch sends a Promotion only when it changed.
func Same(a, b PromotionState) bool {
	sameCond := func(x, y metav1.Condition) bool {
		return x.Status == y.Status && x.Reason == y.Reason && x.Message == y.Message && x.LastTransitionTime.Equal(&y.LastTransitionTime)
	}
	return sameCond(a.Applied, b.Applied) && sameCond(a.Healthy, b.Healthy) && a.AppliedAt.Equal(b.AppliedAt)
}
