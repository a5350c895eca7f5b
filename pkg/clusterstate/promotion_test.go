package clusterstate

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// The fleet's history in these cases: old ← promoted ← later, on main;
// other is on no path from them.
const (
	revOld      = "main@sha1:0000000000000000000000000000000000000001"
	revPromoted = "main@sha1:0000000000000000000000000000000000000002"
	revLater    = "main@sha1:0000000000000000000000000000000000000003"
)

// containsPromoted: promoted and later contain the promotion's commit.
func containsPromoted(revision string) bool { return revision == revPromoted || revision == revLater }

var (
	committed = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	flux      = committed.Add(5 * time.Second)
)

func TestDerivePromotion(t *testing.T) {
	for _, tc := range []struct {
		name             string
		k                *Kustomization
		applied, healthy string // status/reason
		appliedAt        *time.Time
		message          string // in Applied's message
	}{
		{name: "no kustomization: the environment names none, nothing is claimed",
			applied: "Unknown/NoKustomization", healthy: "Unknown/NoKustomization", message: "names no spec.fluxKustomization"},
		{name: "progressing: Flux still runs the revision before the commit",
			k:       &Kustomization{Ready: true, ReadyStatus: metav1.ConditionTrue, AppliedRevision: revOld, AttemptedRevision: revOld},
			applied: "Unknown/Progressing", healthy: "Unknown/Progressing", message: "it last reconciled " + revOld},
		{name: "progressing: an older revision's failure is not this promotion's",
			k:       &Kustomization{ReadyStatus: metav1.ConditionFalse, ReadyReason: "HealthCheckFailed", AppliedRevision: revOld, AttemptedRevision: revOld},
			applied: "Unknown/Progressing", healthy: "Unknown/Progressing"},
		{name: "applied and healthy: Ready at the commit itself, applied when Flux's history says",
			k: &Kustomization{Ready: true, ReadyStatus: metav1.ConditionTrue, AppliedRevision: revPromoted, AttemptedRevision: revPromoted,
				History: []Reconciled{{Revision: revPromoted, First: flux, Status: reconciliationSucceeded}, {Revision: revOld, First: committed.Add(-time.Hour), Status: reconciliationSucceeded}}},
			applied: "True/Applied", healthy: "True/Healthy", appliedAt: &flux, message: "applied " + revPromoted},
		{name: "applied: a descendant of the commit was applied",
			k:       &Kustomization{Ready: true, ReadyStatus: metav1.ConditionTrue, AppliedRevision: revLater, AttemptedRevision: revLater, ReadySince: flux},
			applied: "True/Applied", healthy: "True/Healthy", appliedAt: &flux},
		{name: "applied, not healthy yet: Flux re-checks health for the first time",
			k:       &Kustomization{ReadyStatus: metav1.ConditionUnknown, ReadyReason: "Progressing", AppliedRevision: revPromoted, AttemptedRevision: revPromoted, ReadySince: flux},
			applied: "True/Applied", healthy: "Unknown/Progressing"},
		{name: "healthy stays healthy while Flux reconciles the same revision again",
			k: &Kustomization{ReadyStatus: metav1.ConditionUnknown, ReadyReason: "Progressing", AppliedRevision: revPromoted, AttemptedRevision: revPromoted,
				History: []Reconciled{{Revision: revPromoted, First: flux, Status: reconciliationSucceeded}}},
			applied: "True/Applied", healthy: "True/Healthy"},
		{name: "failed: Ready=False for the revision with the commit, Flux's message kept",
			k: &Kustomization{ReadyStatus: metav1.ConditionFalse, ReadyReason: "HealthCheckFailed", Message: "timeout waiting for: [Deployment/shop/app status: 'InProgress']",
				AppliedRevision: revOld, AttemptedRevision: revPromoted, ReadySince: flux},
			applied: "False/Failed", healthy: "False/Failed", message: "(HealthCheckFailed): timeout waiting for: [Deployment/shop/app"},
		{name: "failed stays failed while Flux retries",
			k: &Kustomization{ReadyStatus: metav1.ConditionUnknown, ReadyReason: "Progressing", AppliedRevision: revOld, AttemptedRevision: revPromoted,
				History: []Reconciled{{Revision: revPromoted, First: flux, Status: "HealthCheckFailed"}}},
			applied: "False/Failed", healthy: "False/Failed", message: "ended HealthCheckFailed"},
		{name: "applied, then a later revision failed: applied stays, health is lost",
			k:       &Kustomization{ReadyStatus: metav1.ConditionFalse, ReadyReason: "ReconciliationFailed", Message: "boom", AppliedRevision: revPromoted, AttemptedRevision: revLater},
			applied: "True/Applied", healthy: "False/Failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "flux-system/apps-prod"
			if tc.k == nil {
				name = ""
			}
			s := DerivePromotion(tc.k, name, committed, containsPromoted)
			if s.Applied.Type != v1alpha1.ConditionApplied || s.Healthy.Type != v1alpha1.ConditionHealthy {
				t.Fatalf("types %q and %q", s.Applied.Type, s.Healthy.Type)
			}
			if got := string(s.Applied.Status) + "/" + s.Applied.Reason; got != tc.applied {
				t.Errorf("Applied %s (%s), want %s", got, s.Applied.Message, tc.applied)
			}
			if got := string(s.Healthy.Status) + "/" + s.Healthy.Reason; got != tc.healthy {
				t.Errorf("Healthy %s (%s), want %s", got, s.Healthy.Message, tc.healthy)
			}
			if !strings.Contains(s.Applied.Message, tc.message) {
				t.Errorf("Applied's message %q does not say %q", s.Applied.Message, tc.message)
			}
			if tc.appliedAt != nil && (s.AppliedAt == nil || !s.AppliedAt.Time.Equal(*tc.appliedAt)) {
				t.Errorf("appliedAt %v, want %s", s.AppliedAt, tc.appliedAt)
			}
			if (s.AppliedAt != nil) != (s.Applied.Status == metav1.ConditionTrue) {
				t.Errorf("appliedAt %v with Applied %s", s.AppliedAt, s.Applied.Status)
			}
			if s.AppliedAt != nil && s.AppliedAt.Time.Before(committed) {
				t.Errorf("applied at %s, before the commit at %s", s.AppliedAt, committed)
			}
		})
	}
}

// Flux's history is keyed by manifests: a promotion that changed none
// inherits an entry first reconciled before it was made, and is not
// applied before its commit.
func TestAppliedAtIsNeverBeforeTheCommit(t *testing.T) {
	k := &Kustomization{Ready: true, ReadyStatus: metav1.ConditionTrue, AppliedRevision: revPromoted, AttemptedRevision: revPromoted,
		History: []Reconciled{{Revision: revPromoted, First: committed.Add(-time.Hour), Status: reconciliationSucceeded}}}
	if s := DerivePromotion(k, "flux-system/apps-prod", committed, containsPromoted); !s.AppliedAt.Time.Equal(committed) {
		t.Errorf("appliedAt %s, want the commit's time %s", s.AppliedAt, committed)
	}
}

func TestTransitionsAreEventsOncePerChange(t *testing.T) {
	progressing := DerivePromotion(&Kustomization{Ready: true, ReadyStatus: metav1.ConditionTrue, AppliedRevision: revOld, AttemptedRevision: revOld}, "k", committed, containsPromoted)
	applying := DerivePromotion(&Kustomization{ReadyStatus: metav1.ConditionUnknown, AppliedRevision: revPromoted, AttemptedRevision: revPromoted}, "k", committed, containsPromoted)
	healthy := DerivePromotion(&Kustomization{Ready: true, ReadyStatus: metav1.ConditionTrue, AppliedRevision: revPromoted, AttemptedRevision: revPromoted}, "k", committed, containsPromoted)
	failed := DerivePromotion(&Kustomization{ReadyStatus: metav1.ConditionFalse, ReadyReason: "HealthCheckFailed", AppliedRevision: revOld, AttemptedRevision: revPromoted}, "k", committed, containsPromoted)
	reasons := func(ts []Transition) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Reason)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name          string
		before, after PromotionState
		want          string
	}{
		{"applied: Flux applied the commit", progressing, applying, "Applied"},
		{"healthy: its health checks passed", applying, healthy, "Healthy"},
		{"applied and healthy: both in one step", progressing, healthy, "Applied,Healthy"},
		{"failed: Flux could not make it healthy", progressing, failed, "Failed"},
		{"nothing: the same state again", healthy, healthy, ""},
		{"nothing: still failed", failed, failed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reasons(Transitions(tc.before, tc.after)); got != tc.want {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
	if ts := Transitions(progressing, failed); len(ts) != 1 || !ts[0].Warning || !strings.Contains(ts[0].Message, "HealthCheckFailed") {
		t.Errorf("the Failed event: %+v", ts)
	}
	if !Same(healthy, healthy) || Same(progressing, healthy) {
		t.Error("Same cannot tell states apart")
	}
}

func TestAncestryReadsEachRevisionOnce(t *testing.T) {
	a := newAncestry()
	reads := 0
	read := func(descendant string, limit int) ([]string, bool, error) {
		reads++
		return []string{descendant, "parent", "grandparent"}, true, nil
	}
	for _, c := range []string{"parent", "grandparent", "stranger", "parent"} {
		if got, want := a.contains("head", c, read), c != "stranger"; got != want {
			t.Errorf("head contains %s: %v, want %v", c, got, want)
		}
	}
	if reads != 1 {
		t.Errorf("read the history of one revision %d times", reads)
	}
}
