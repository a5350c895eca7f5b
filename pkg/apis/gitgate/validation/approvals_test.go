package validation

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func TestValidateApprovalPolicy(t *testing.T) {
	cases := []struct {
		name string
		p    *gitgate.ApprovalPolicy
		want string // "" means valid
	}{
		{"valid: no policy", nil, ""},
		{"valid: one approval", &gitgate.ApprovalPolicy{Required: 1}, ""},
		{"valid: the largest quorum", &gitgate.ApprovalPolicy{Required: MaxApprovalsRequired}, ""},
		{"invalid: zero approvals", &gitgate.ApprovalPolicy{Required: 0}, "spec.approvals.required: Invalid value: 0: must be between 1 and 100"},
		{"invalid: negative approvals", &gitgate.ApprovalPolicy{Required: -2}, "spec.approvals.required"},
		{"invalid: an absurd quorum", &gitgate.ApprovalPolicy{Required: 1000}, "spec.approvals.required: Invalid value: 1000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &gitgate.EnvironmentSpec{Path: "overlays/prod", Strategy: gitgate.StrategyImages, Approvals: tc.p}
			errs := ValidateEnvironmentSpec(spec, field.NewPath("spec"))
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("want valid, got %v", errs)
			case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
				t.Fatalf("want an error containing %q, got %v", tc.want, errs)
			}
		})
	}
}

func TestApprovalsWeakened(t *testing.T) {
	two, three, one := &gitgate.ApprovalPolicy{Required: 2}, &gitgate.ApprovalPolicy{Required: 3}, &gitgate.ApprovalPolicy{Required: 1}
	cases := []struct {
		name      string
		old, next *gitgate.ApprovalPolicy
		weakened  bool
	}{
		{"weakened: approvals removed", two, nil, true},
		{"weakened: fewer approvals required", two, one, true},
		{"not weakened: approvals added", nil, two, false},
		{"not weakened: more approvals required", two, three, false},
		{"not weakened: unchanged", two, &gitgate.ApprovalPolicy{Required: 2}, false},
		{"not weakened: none before or after", nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oldSpec := &gitgate.EnvironmentSpec{Approvals: tc.old}
			newSpec := &gitgate.EnvironmentSpec{Approvals: tc.next}
			got := slices.Contains(WeakenedProtections(newSpec, oldSpec), "spec.approvals")
			if got != tc.weakened {
				t.Fatalf("WeakenedProtections lists spec.approvals: %v, want %v", got, tc.weakened)
			}
		})
	}
}
