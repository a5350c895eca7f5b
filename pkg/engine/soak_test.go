package engine

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// TestPlannerMinSoak: test's minSoak admits what dev has run Healthy long
// enough, refuses the rest with the time left, and leaves rollbacks and
// environments without a soak alone.
func TestPlannerMinSoak(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	devKustomization := &gitgate.ObjectReference{Namespace: "flux-system", Name: "apps-dev"}
	cases := []struct {
		name    string
		soak    time.Duration // test's minSoak
		noFlux  bool          // dev names no Kustomization
		noClock bool          // the engine has no HealthClock
		healthy time.Duration // how long dev has been Healthy; 0 is not Healthy
		from    string        // default dev; "test" with revision c1 is a rollback
		rev     string        // spec.revision: a commit name of the repository
		later   bool          // a commit that leaves dev's overlay alone moved the branch
		want    string        // "" admits; else a pattern of the 422's message
	}{
		{name: "admitted: no soak asked", healthy: 0},
		{name: "refused: dev is not Healthy at the revision", soak: 10 * time.Minute,
			want: `revision [0-9a-f]+ is not Healthy there yet \(Flux Kustomization flux-system/apps-dev is not Ready\)`},
		{name: "refused: Healthy for 3m of 10m", soak: 10 * time.Minute, healthy: 3 * time.Minute,
			want: `has been Healthy for 3m0s since 2026-11-29T11:57:00Z; 7m0s left`},
		{name: "admitted: Healthy for exactly 10m", soak: 10 * time.Minute, healthy: 10 * time.Minute},
		{name: "refused: dev names no Flux Kustomization", soak: 10 * time.Minute, noFlux: true, healthy: time.Hour,
			want: `dev names no spec.fluxKustomization`},
		{name: "refused: the server cannot see Flux", soak: 10 * time.Minute, noClock: true, healthy: time.Hour,
			want: `this server does not watch Flux`},
		{name: "admitted: a rollback is not gated", soak: 10 * time.Minute, from: "test"},
		{name: "admitted: a later commit elsewhere does not restart dev's soak", soak: 10 * time.Minute, healthy: 10 * time.Minute, later: true},
		{name: "admitted: dev's current revision named by spec.revision", soak: 10 * time.Minute, healthy: 10 * time.Minute, rev: "c3"},
		{name: "refused: an older revision of dev cannot borrow the soak of what dev runs now", soak: 10 * time.Minute, healthy: time.Hour, rev: "c2",
			want: `revision [0-9a-f]+ is not what dev runs now: its overlays/dev differs from the current revision`},
		{name: "refused: a source other than promotesFrom skips where the soak is measured", soak: 10 * time.Minute, healthy: time.Hour, from: "prod",
			want: `takes promotions from its promotesFrom \("dev"\) only`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, s, commits := trunkRepo()
			if !tc.noFlux {
				s.envs["dev"].env.Spec.FluxKustomization = devKustomization
			}
			s.envs["dev"].env.Status.Revision = commits["c3"].String()
			if tc.later {
				s.heads["main"] = m.commit([]gitstore.Hash{commits["c3"]}, map[string]string{"overlays/prod/kustomization.yaml": overlayWith("app=1.0", "worker=2.2")}, "prod worker")
			}
			if tc.soak > 0 {
				s.envs["test"].env.Spec.PromotionPolicy = &gitgate.PromotionPolicy{MinSoak: &metav1.Duration{Duration: tc.soak}}
			}
			var asked []string
			pn := planner{git: m, defaultBranch: "main", now: func() time.Time { return now }}
			if !tc.noClock {
				pn.healthySince = func(env *gitgate.Environment, commit gitstore.Hash, committed time.Time) (time.Time, bool, string) {
					asked = append(asked, env.Name+"@"+commit.String())
					if committed != m.commits[commit].commit.Committer.When {
						t.Errorf("asked with commit time %s, want the commit's", committed)
					}
					if tc.healthy == 0 {
						return time.Time{}, false, "Flux Kustomization flux-system/apps-dev is not Ready"
					}
					return now.Add(-tc.healthy), true, ""
				}
			}
			p := promotion("p", "test", tc.from)
			if tc.from == "test" {
				p.Spec.Revision = commits["c1"].String()
			}
			if tc.rev != "" {
				p.Spec.Revision = commits[tc.rev].String()
			}
			_, err := pn.plan(s, p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("plan = %v, want admitted", err)
				}
			} else {
				var inv *InvalidError
				if !errors.As(err, &inv) || inv.Errors[0].Field != "spec.from" || !strings.Contains(err.Error(), "spec.promotionPolicy.minSoak") ||
					!regexp.MustCompile(tc.want).MatchString(err.Error()) {
					t.Fatalf("plan error = %v, want a 422 on spec.from matching %q", err, tc.want)
				}
			}
			gated := tc.soak > 0 && tc.from == "" && tc.rev != "c2" && !tc.noFlux && !tc.noClock
			switch {
			case gated && (len(asked) != 1 || asked[0] != "dev@"+commits["c3"].String()):
				t.Errorf("the health clock was asked %v, want dev at c3 once", asked)
			case !gated && len(asked) > 0:
				t.Errorf("the health clock was asked %v where no soak is measured", asked)
			}
		})
	}
}
