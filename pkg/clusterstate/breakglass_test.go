package clusterstate

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

func TestDriftCondition(t *testing.T) {
	since := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		lines  []string
		status metav1.ConditionStatus
		reason string
		msg    string
	}{
		{"in sync: nothing recorded since the last commit", nil, metav1.ConditionFalse, v1alpha1.ReasonInSync, "no break-glass change since the last commit"},
		{"drifted: each recorded change is named", []string{"Deployment shop-prod/app: alice scaled", "ConfigMap shop-prod/flags: bob patched"}, metav1.ConditionTrue, v1alpha1.ReasonBreakGlass,
			"changed outside Git until a commit catches up: Deployment shop-prod/app: alice scaled; ConfigMap shop-prod/flags: bob patched"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DriftCondition(tc.lines, since)
			if c.Type != v1alpha1.ConditionDrift || c.Status != tc.status || c.Reason != tc.reason || c.Message != tc.msg || !c.LastTransitionTime.Time.Equal(since) {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestClaimantsDeployIntoTheTargetNamespaceElseTheOverlays(t *testing.T) {
	claims := []repositories.FluxClaim{{Environment: "prod", Namespace: "shop", Repository: "fleet", Path: "overlays/prod", OverlayNamespace: "shop-prod"}}
	for _, tc := range []struct {
		name, target string
		want         []string
	}{
		{"the Kustomization's targetNamespace wins", "elsewhere", []string{"elsewhere"}},
		{"no targetNamespace: the overlay's namespace", "", []string{"shop-prod"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := claimantsOf(claims, tc.target)
			if len(got) != 1 || got[0].Owner.Environment != "prod" || got[0].Owner.Path != "overlays/prod" ||
				len(got[0].Namespaces) != 1 || got[0].Namespaces[0] != tc.want[0] {
				t.Errorf("claimants %+v, want namespaces %v", got, tc.want)
			}
		})
	}
	if got := claimantsOf([]repositories.FluxClaim{{Environment: "dev"}}, ""); len(got) != 1 || got[0].Namespaces != nil {
		t.Errorf("no namespace known: %+v, want none rather than a guess", got)
	}
}
