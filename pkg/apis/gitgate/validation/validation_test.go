package validation

import (
	"strings"
	"testing"
	"time"

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
		{"invalid: path is the repository root", func(e *gitgate.Environment) { e.Spec.Path = "." }, "must not be the repository root"},
		{"invalid: path is the root spelled ./", func(e *gitgate.Environment) { e.Spec.Path = "./" }, "must not be the repository root"},
		{"invalid: path climbs back to the root", func(e *gitgate.Environment) { e.Spec.Path = "overlays/.." }, "must not be the repository root"},
		{"invalid: path in the definitions directory", func(e *gitgate.Environment) { e.Spec.Path = ".gitgate/environments" }, "gitgate's environment definitions"},
		{"invalid: path is the definitions directory", func(e *gitgate.Environment) { e.Spec.Path = "./.gitgate/" }, "must not be in .gitgate/"},
		{"invalid: path in .git", func(e *gitgate.Environment) { e.Spec.Path = ".git/hooks" }, "must not be in .git/"},
		{"valid: path with a trailing slash", func(e *gitgate.Environment) { e.Spec.Path = "overlays/prod/" }, ""},
		{"valid: path under a directory named like .gitgate", func(e *gitgate.Environment) { e.Spec.Path = ".gitgate-old/prod" }, ""},
		{"invalid: branch is a review branch", func(e *gitgate.Environment) { e.Spec.Branch = "gitgate/promotions/prod-1" }, "which gitgate reserves for review branches"},
		{"invalid: branch under gitgate/", func(e *gitgate.Environment) { e.Spec.Branch = "gitgate/audit" }, "spec.branch"},
		{"invalid: branch is HEAD", func(e *gitgate.Environment) { e.Spec.Branch = "HEAD" }, "spec.branch"},
		{"invalid: flux reference without name", func(e *gitgate.Environment) { e.Spec.FluxKustomization = &gitgate.ObjectReference{} }, "spec.fluxKustomization.name"},
		{"valid: a soak of 10m", func(e *gitgate.Environment) { e.Spec.PromotionPolicy = soak(10 * time.Minute) }, ""},
		{"valid: a policy without a soak", func(e *gitgate.Environment) { e.Spec.PromotionPolicy = &gitgate.PromotionPolicy{} }, ""},
		{"invalid: a negative soak", func(e *gitgate.Environment) { e.Spec.PromotionPolicy = soak(-time.Minute) }, "spec.promotionPolicy.minSoak: Invalid value: \"-1m0s\": must not be negative"},
		{"invalid: a soak over 720h", func(e *gitgate.Environment) { e.Spec.PromotionPolicy = soak(721 * time.Hour) }, "spec.promotionPolicy.minSoak: Invalid value: \"721h0m0s\": must be at most 720h0m0s"},
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

func TestValidateEnvironmentUpdate(t *testing.T) {
	old := &gitgate.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "shop", ResourceVersion: "1"},
		Spec:       gitgate.EnvironmentSpec{Branch: "main", Path: "overlays/dev", Strategy: gitgate.StrategyImages},
	}
	cases := []struct {
		name   string
		mutate func(*gitgate.EnvironmentSpec)
		want   string // "" means valid
	}{
		{"allowed: labels-only change keeps branch and path", func(*gitgate.EnvironmentSpec) {}, ""},
		{"allowed: the same path spelled with a trailing slash", func(s *gitgate.EnvironmentSpec) { s.Path = "overlays/dev/" }, ""},
		{"allowed: review switched on", func(s *gitgate.EnvironmentSpec) { s.Review = true }, ""},
		{"refused: path moved to prod's overlay", func(s *gitgate.EnvironmentSpec) { s.Path = "overlays/prod" }, `spec.path: Invalid value: "overlays/prod": is immutable (was "overlays/dev")`},
		{"refused: branch moved to another branch", func(s *gitgate.EnvironmentSpec) { s.Branch = "release" }, `spec.branch: Invalid value: "release": is immutable (was "main"): delete the environment and create it again`},
		{"refused: new path is still validated", func(s *gitgate.EnvironmentSpec) { s.Path = "." }, "must not be the repository root"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := old.DeepCopy()
			tc.mutate(&env.Spec)
			errs := ValidateEnvironmentUpdate(env, old)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("want valid, got %v", errs)
			case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
				t.Fatalf("want an error containing %q, got %v", tc.want, errs)
			}
		})
	}
}

func TestWeakenedProtections(t *testing.T) {
	prod := gitgate.EnvironmentSpec{Branch: "main", Path: "overlays/prod", PromotesFrom: "test", Strategy: gitgate.StrategyImages,
		Review: true, ImageTagPattern: "^version-", FluxKustomization: &gitgate.ObjectReference{Namespace: "flux-system", Name: "apps-prod"}}
	open := gitgate.EnvironmentSpec{Branch: "main", Path: "overlays/dev", Strategy: gitgate.StrategyImages}
	cases := []struct {
		name     string
		old      gitgate.EnvironmentSpec
		mutate   func(*gitgate.EnvironmentSpec)
		weakened string // comma-separated field paths; "" means only update is needed
	}{
		{"update only: nothing changes", prod, func(*gitgate.EnvironmentSpec) {}, ""},
		{"update only: review switched on", open, func(s *gitgate.EnvironmentSpec) { s.Review = true }, ""},
		{"update only: a tag pattern where there was none", open, func(s *gitgate.EnvironmentSpec) { s.ImageTagPattern = "^v" }, ""},
		{"promote needed: review switched off", prod, func(s *gitgate.EnvironmentSpec) { s.Review = false }, "spec.review"},
		{"promote needed: tag pattern removed", prod, func(s *gitgate.EnvironmentSpec) { s.ImageTagPattern = "" }, "spec.imageTagPattern"},
		{"promote needed: tag pattern changed, even if it looks stricter", prod, func(s *gitgate.EnvironmentSpec) { s.ImageTagPattern = "^version-1" }, "spec.imageTagPattern"},
		{"promote needed: promotesFrom changed", prod, func(s *gitgate.EnvironmentSpec) { s.PromotesFrom = "dev" }, "spec.promotesFrom"},
		{"promote needed: promotesFrom set", open, func(s *gitgate.EnvironmentSpec) { s.PromotesFrom = "test" }, "spec.promotesFrom"},
		{"promote needed: strategy changed to Merge", prod, func(s *gitgate.EnvironmentSpec) { s.Strategy = gitgate.StrategyMerge }, "spec.strategy"},
		{"promote needed: Kustomization released", prod, func(s *gitgate.EnvironmentSpec) { s.FluxKustomization = nil }, "spec.fluxKustomization"},
		{"promote needed: Kustomization pointed elsewhere", prod, func(s *gitgate.EnvironmentSpec) {
			s.FluxKustomization = &gitgate.ObjectReference{Namespace: "flux-system", Name: "apps-dev"}
		}, "spec.fluxKustomization"},
		{"update only: a first Kustomization claimed", open, func(s *gitgate.EnvironmentSpec) {
			s.FluxKustomization = &gitgate.ObjectReference{Namespace: "flux-system", Name: "apps-dev"}
		}, ""},
		{"update only: a soak added", open, func(s *gitgate.EnvironmentSpec) { s.PromotionPolicy = soak(time.Minute) }, ""},
		{"update only: a soak lengthened", withSoak(prod, time.Minute), func(s *gitgate.EnvironmentSpec) { s.PromotionPolicy = soak(time.Hour) }, ""},
		{"promote needed: a soak shortened", withSoak(prod, time.Hour), func(s *gitgate.EnvironmentSpec) { s.PromotionPolicy = soak(time.Minute) }, "spec.promotionPolicy.minSoak"},
		{"promote needed: a soak removed", withSoak(prod, time.Hour), func(s *gitgate.EnvironmentSpec) { s.PromotionPolicy = nil }, "spec.promotionPolicy.minSoak"},
		{"promote needed: a soak set to 0s", withSoak(prod, time.Hour), func(s *gitgate.EnvironmentSpec) { s.PromotionPolicy = soak(0) }, "spec.promotionPolicy.minSoak"},
		{"promote needed: everything off at once", prod, func(s *gitgate.EnvironmentSpec) { s.Review, s.ImageTagPattern, s.PromotesFrom = false, "", "" },
			"spec.review,spec.imageTagPattern,spec.promotesFrom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := *tc.old.DeepCopy()
			next := *tc.old.DeepCopy()
			tc.mutate(&next)
			if got := strings.Join(WeakenedProtections(&next, &old), ","); got != tc.weakened {
				t.Fatalf("weakened fields = %q, want %q", got, tc.weakened)
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

func soak(d time.Duration) *gitgate.PromotionPolicy {
	return &gitgate.PromotionPolicy{MinSoak: &metav1.Duration{Duration: d}}
}

func withSoak(spec gitgate.EnvironmentSpec, d time.Duration) gitgate.EnvironmentSpec {
	out := *spec.DeepCopy()
	out.PromotionPolicy = soak(d)
	return out
}
