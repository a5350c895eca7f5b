package validation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func weekend() gitgate.FreezeWindow {
	return gitgate.FreezeWindow{Start: "0 18 * * FRI", Duration: metav1.Duration{Duration: 62 * time.Hour}, TimeZone: "Europe/Berlin"}
}

func TestValidateFreeze(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*gitgate.FreezeSpec)
		want   string // "" means valid
	}{
		{"valid: a weekend window in Berlin", func(*gitgate.FreezeSpec) {}, ""},
		{"valid: UTC when no time zone is given", func(s *gitgate.FreezeSpec) { s.Windows[0].TimeZone = "" }, ""},
		{"invalid: start is not a 5-field cron", func(s *gitgate.FreezeSpec) { s.Windows[0].Start = "every friday" }, "spec.freeze.windows[0].start: Invalid value"},
		{"invalid: start hour out of range", func(s *gitgate.FreezeSpec) { s.Windows[0].Start = "0 24 * * FRI" }, "hour field \"24\": 24 is out of range 0-23"},
		{"invalid: start names no day that exists", func(s *gitgate.FreezeSpec) { s.Windows[0].Start = "0 0 31 2 *" }, "spec.freeze.windows[0].start: Invalid value: \"0 0 31 2 *\": names no start"},
		{"invalid: start step overflows", func(s *gitgate.FreezeSpec) { s.Windows[0].Start = "59/9223372036854775807 * * * *" }, "spec.freeze.windows[0].start: Invalid value"},
		{"valid: start every leap day", func(s *gitgate.FreezeSpec) { s.Windows[0].Start = "0 0 29 2 *" }, ""},
		{"invalid: zero duration", func(s *gitgate.FreezeSpec) { s.Windows[0].Duration.Duration = 0 }, "spec.freeze.windows[0].duration: Invalid value: \"0s\": must be positive"},
		{"invalid: duration with seconds", func(s *gitgate.FreezeSpec) { s.Windows[0].Duration.Duration = 61 * time.Second }, "spec.freeze.windows[0].duration"},
		{"invalid: unknown time zone", func(s *gitgate.FreezeSpec) { s.Windows[0].TimeZone = "Mars/Olympus" }, "spec.freeze.windows[0].timeZone: Invalid value: \"Mars/Olympus\""},
		{"invalid: reason over two lines", func(s *gitgate.FreezeSpec) { s.Reason = "a\nb" }, "spec.freeze.reason"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &gitgate.FreezeSpec{Windows: []gitgate.FreezeWindow{weekend()}}
			tc.mutate(spec)
			errs := ValidateFreeze(spec, field.NewPath("spec", "freeze"))
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("want valid, got %v", errs)
			case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
				t.Fatalf("want an error containing %q, got %v", tc.want, errs)
			}
		})
	}
}

func TestWeakenedFreeze(t *testing.T) {
	frozen := gitgate.EnvironmentSpec{Path: "overlays/prod", Strategy: gitgate.StrategyImages,
		Freeze: &gitgate.FreezeSpec{Windows: []gitgate.FreezeWindow{weekend()}, Frozen: true, Reason: "incident 42"}}
	open := gitgate.EnvironmentSpec{Path: "overlays/prod", Strategy: gitgate.StrategyImages}
	cases := []struct {
		name     string
		old      gitgate.EnvironmentSpec
		mutate   func(*gitgate.EnvironmentSpec)
		weakened string
	}{
		{"update only: a first window", open, func(s *gitgate.EnvironmentSpec) {
			s.Freeze = &gitgate.FreezeSpec{Windows: []gitgate.FreezeWindow{weekend()}}
		}, ""},
		{"update only: the switch turned on", open, func(s *gitgate.EnvironmentSpec) { s.Freeze = &gitgate.FreezeSpec{Frozen: true} }, ""},
		{"update only: a window added beside the old one", frozen, func(s *gitgate.EnvironmentSpec) {
			s.Freeze.Windows = append(s.Freeze.Windows, gitgate.FreezeWindow{Start: "0 0 24 12 *", Duration: metav1.Duration{Duration: 48 * time.Hour}})
		}, ""},
		{"promote only: promotesFrom changed on a frozen environment", frozen, func(s *gitgate.EnvironmentSpec) { s.PromotesFrom = "staging" }, "spec.promotesFrom"},
		{"update only: the reason reworded", frozen, func(s *gitgate.EnvironmentSpec) { s.Freeze.Reason = "incident 43" }, ""},
		{"promote and freeze needed: the switch turned off", frozen, func(s *gitgate.EnvironmentSpec) { s.Freeze.Frozen = false }, "spec.freeze.frozen"},
		{"promote and freeze needed: a window removed", frozen, func(s *gitgate.EnvironmentSpec) { s.Freeze.Windows = nil }, "spec.freeze.windows"},
		{"promote and freeze needed: a window shortened", frozen, func(s *gitgate.EnvironmentSpec) { s.Freeze.Windows[0].Duration.Duration = time.Hour }, "spec.freeze.windows"},
		{"promote and freeze needed: a window moved to another time zone", frozen, func(s *gitgate.EnvironmentSpec) { s.Freeze.Windows[0].TimeZone = "Pacific/Kiritimati" }, "spec.freeze.windows"},
		{"promote and freeze needed: the whole freeze removed", frozen, func(s *gitgate.EnvironmentSpec) { s.Freeze = nil }, "spec.freeze.windows,spec.freeze.frozen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := *tc.old.DeepCopy()
			next := *tc.old.DeepCopy()
			tc.mutate(&next)
			if got := strings.Join(WeakenedProtections(&next, &old), ","); got != tc.weakened {
				t.Fatalf("weakened fields = %q, want %q", got, tc.weakened)
			}
			wantFreeze := strings.Contains(tc.weakened, "spec.freeze")
			if got := WeakensFreeze(&next, &old); got != wantFreeze {
				t.Fatalf("WeakensFreeze = %v, want %v (the verb freeze is needed exactly when the freeze is weakened)", got, wantFreeze)
			}
		})
	}
}
