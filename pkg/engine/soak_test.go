package engine

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// healthAt is a HealthClock that says every revision of every environment
// has been Healthy since a fixed time, or is not Healthy (zero time).
type healthAt struct {
	since time.Time
	asked []string // environment@commit, one per question
}

func (h *healthAt) HealthySince(_ *Engine, env *gitgate.Environment, commit gitstore.Hash, _ time.Time) (time.Time, bool, string) {
	h.asked = append(h.asked, env.Name+"@"+commit.String())
	if h.since.IsZero() {
		return time.Time{}, false, "Flux Kustomization flux-system/apps-test is not Ready"
	}
	return h.since, true, ""
}

// TestMinSoakGatesPromotionOnUpstreamHealth: prod's minSoak admits what
// test has run Healthy long enough, refuses the rest with the time left,
// and leaves rollbacks and environments without a soak alone.
func TestMinSoakGatesPromotionOnUpstreamHealth(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	const prodSoak = "\n  promotionPolicy: {minSoak: 10m}\n"
	cases := []struct {
		name     string
		prodSpec string // appended to prod's spec
		testSpec string // test.yaml replaced when set
		healthy  time.Duration
		from     string // default test
		want     string // "" admits
	}{
		{"admitted: no soak asked", "", "", 0, "", ""},
		{"refused: upstream not Healthy at the revision", prodSoak, "", 0, "",
			"revision [0-9a-f]+ is not Healthy there yet \\(Flux Kustomization flux-system/apps-test is not Ready\\)"},
		{"refused: Healthy for 3m of 10m", prodSoak, "", 3 * time.Minute, "",
			"has been Healthy for 3m0s since 2026-11-29T11:57:00Z; 7m0s left"},
		{"admitted: Healthy for 10m", prodSoak, "", 10 * time.Minute, "", ""},
		{"refused: upstream names no Flux Kustomization", prodSoak,
			"apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: test\nspec:\n  path: overlays/test\n  promotesFrom: dev\n  strategy: Images\n",
			time.Hour, "", "test names no spec.fluxKustomization"},
		{"admitted: a rollback is not gated", prodSoak, "", 0, "prod", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "trunk", "main")
			prod := f.show("main", ".gitgate/environments/prod.yaml")
			f.commitFile("main", ".gitgate/environments/prod.yaml", strings.TrimRight(prod, "\n")+tc.prodSpec)
			if tc.testSpec != "" {
				f.commitFile("main", ".gitgate/environments/test.yaml", tc.testSpec)
			}
			// test runs something prod does not, so there is something to promote.
			f.commitFile("main", "overlays/test/kustomization.yaml", testOverlayHead+
				"- name: app\n  newName: registry.example.com/app\n  newTag: version-1.2.9\n")
			var since time.Time
			if tc.healthy > 0 {
				since = now.Add(-tc.healthy)
			}
			health := &healthAt{since: since}
			e := f.engine("main", func(o *Options) { o.Health, o.Now = health, func() time.Time { return now } })
			ctx := context.Background()
			p := promotion("soak", "prod", "test")
			if tc.from == "prod" {
				// A rollback: prod back to its first revision, with a change to make.
				first := f.git(f.work, "rev-list", "--max-parents=0", "HEAD")
				f.commitFile("main", "overlays/prod/kustomization.yaml", strings.ReplaceAll(f.show("main", "overlays/prod/kustomization.yaml"), "newTag:", "newTag: x"))
				if err := e.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
				p = promotion("soak", "prod", "prod")
				p.Spec.Revision = first
			}
			before := f.remoteHead("main")
			for _, dryRun := range []bool{true, false} {
				_, err := e.Promote(ctx, PromotionRequest{Promotion: p, User: "bob", DryRun: dryRun})
				if tc.want == "" {
					if err != nil {
						t.Fatalf("Promote(dryRun=%v) = %v, want admitted", dryRun, err)
					}
					continue
				}
				var inv *InvalidError
				if !errors.As(err, &inv) || inv.Errors[0].Field != "spec.from" || !regexp.MustCompile(tc.want).MatchString(err.Error()) ||
					!strings.Contains(err.Error(), "spec.promotionPolicy.minSoak") {
					t.Fatalf("Promote(dryRun=%v) error = %v, want a 422 on spec.from matching %q", dryRun, err, tc.want)
				}
				if got := f.remoteHead("main"); got != before {
					t.Fatalf("a refused promotion moved main from %s to %s", before, got)
				}
			}
			if tc.prodSpec == "" || tc.from == "prod" || tc.testSpec != "" {
				if len(health.asked) > 0 {
					t.Errorf("the health clock was asked %v where no soak applies", health.asked)
				}
			} else if len(health.asked) == 0 || !strings.HasPrefix(health.asked[0], "test@") {
				t.Errorf("the health clock was asked %v, want test at the promoted revision", health.asked)
			}
		})
	}
}
