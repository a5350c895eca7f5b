package validation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func TestValidateEnvironment(t *testing.T) {
	valid := func() *gitgate.Environment {
		return &gitgate.Environment{
			ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: "shop"},
			Spec:       gitgate.EnvironmentSpec{Branch: "main", Path: "overlays/prod", PromotesFrom: "test", Strategy: gitgate.StrategyImages, ImageTagPattern: "^v"},
		}
	}
	cases := []struct {
		name   string
		mutate func(*gitgate.Environment)
		want   string // "" means valid
	}{
		{"valid: a full spec", func(*gitgate.Environment) {}, ""},
		{"invalid: name is not a DNS label", func(e *gitgate.Environment) { e.Name = "Prod_1" }, "metadata.name"},
		{"invalid: no namespace", func(e *gitgate.Environment) { e.Namespace = "" }, "metadata.namespace: Required value"},
		{"invalid: no path", func(e *gitgate.Environment) { e.Spec.Path = "" }, "spec.path: Required value"},
		{"invalid: path leaves the repository", func(e *gitgate.Environment) { e.Spec.Path = "../other" }, "spec.path: Invalid value"},
		{"invalid: absolute path", func(e *gitgate.Environment) { e.Spec.Path = "/etc" }, "spec.path: Invalid value"},
		{"invalid: unknown strategy", func(e *gitgate.Environment) { e.Spec.Strategy = "Rebase" }, `spec.strategy: Unsupported value: "Rebase"`},
		{"invalid: tag pattern does not compile", func(e *gitgate.Environment) { e.Spec.ImageTagPattern = "(" }, "spec.imageTagPattern"},
		{"invalid: branch with ..", func(e *gitgate.Environment) { e.Spec.Branch = "a..b" }, "spec.branch"},
		{"invalid: promotesFrom not a name", func(e *gitgate.Environment) { e.Spec.PromotesFrom = "Test!" }, "spec.promotesFrom"},
		{"invalid: flux reference without name", func(e *gitgate.Environment) { e.Spec.FluxKustomization = &gitgate.ObjectReference{} }, "spec.fluxKustomization.name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := valid()
			tc.mutate(env)
			errs := ValidateEnvironment(env)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("want valid, got %v", errs)
			case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
				t.Fatalf("want an error containing %q, got %v", tc.want, errs)
			}
		})
	}
}

func TestValidatePromotion(t *testing.T) {
	cases := []struct {
		name string
		spec gitgate.PromotionSpec
		want string
	}{
		{"valid: target only", gitgate.PromotionSpec{Environment: "prod"}, ""},
		{"valid: everything", gitgate.PromotionSpec{Environment: "prod", From: "test", Revision: "abc1234", Images: []string{"app"}, Message: "r"}, ""},
		{"invalid: no environment", gitgate.PromotionSpec{}, "spec.environment: Required value"},
		{"invalid: short revision", gitgate.PromotionSpec{Environment: "prod", Revision: "abc"}, "spec.revision"},
		{"invalid: uppercase revision", gitgate.PromotionSpec{Environment: "prod", Revision: "ABCDEF1"}, "spec.revision"},
		{"invalid: duplicate image", gitgate.PromotionSpec{Environment: "prod", Images: []string{"app", "app"}}, "spec.images[1]: Duplicate value"},
		{"invalid: empty image", gitgate.PromotionSpec{Environment: "prod", Images: []string{""}}, "spec.images[0]: Required value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &gitgate.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "prod-1", Namespace: "shop"}, Spec: tc.spec}
			errs := ValidatePromotion(p)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("want valid, got %v", errs)
			case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
				t.Fatalf("want an error containing %q, got %v", tc.want, errs)
			}
		})
	}
}
