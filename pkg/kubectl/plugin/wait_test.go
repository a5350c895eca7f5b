package plugin

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

func TestVerdict(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	progressing := cond(v1alpha1.ConditionHealthy, metav1.ConditionUnknown, v1alpha1.ReasonProgressing, "")
	for _, tc := range []struct {
		name       string
		phase      v1alpha1.PromotionPhase
		conditions []metav1.Condition
		wait       string
		done       bool
		err        string
	}{
		{"waits: Flux has not applied it yet", v1alpha1.PromotionSucceeded,
			[]metav1.Condition{cond(v1alpha1.ConditionApplied, metav1.ConditionUnknown, v1alpha1.ReasonProgressing, ""), progressing}, v1alpha1.ConditionApplied, false, ""},
		{"done: applied", v1alpha1.PromotionSucceeded,
			[]metav1.Condition{cond(v1alpha1.ConditionApplied, metav1.ConditionTrue, v1alpha1.ReasonApplied, ""), progressing}, v1alpha1.ConditionApplied, true, ""},
		{"waits: applied, yet --wait-for=healthy", v1alpha1.PromotionSucceeded,
			[]metav1.Condition{cond(v1alpha1.ConditionApplied, metav1.ConditionTrue, v1alpha1.ReasonApplied, ""), progressing}, v1alpha1.ConditionHealthy, false, ""},
		{"fails: Flux's message is the error", v1alpha1.PromotionSucceeded,
			[]metav1.Condition{cond(v1alpha1.ConditionApplied, metav1.ConditionFalse, v1alpha1.ReasonFailed, "HealthCheckFailed: timeout")}, v1alpha1.ConditionApplied, true, "promotion p failed: HealthCheckFailed: timeout"},
		{"fails: health lost after the apply, even waiting for applied", v1alpha1.PromotionSucceeded,
			[]metav1.Condition{cond(v1alpha1.ConditionApplied, metav1.ConditionTrue, v1alpha1.ReasonApplied, ""), cond(v1alpha1.ConditionHealthy, metav1.ConditionFalse, v1alpha1.ReasonFailed, "boom")}, v1alpha1.ConditionApplied, true, "boom"},
		{"fails: superseded before it was merged", v1alpha1.PromotionSuperseded, nil, v1alpha1.ConditionApplied, true, "superseded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: v1alpha1.PromotionStatus{Phase: tc.phase, Conditions: tc.conditions}}
			done, met, err := Verdict(p, tc.wait)
			if done != tc.done {
				t.Fatalf("done %v, want %v", done, tc.done)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
			if done && tc.err == "" && (met == nil || met.Type != tc.wait) {
				t.Errorf("met %+v, want the %s condition", met, tc.wait)
			}
		})
	}
}
