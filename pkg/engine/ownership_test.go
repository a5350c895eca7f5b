package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func envAt(name, branch, path string, strategy gitgate.PromotionStrategy) *gitgate.Environment {
	env := &gitgate.Environment{Spec: gitgate.EnvironmentSpec{Branch: branch, Path: path, Strategy: strategy}}
	env.Name = name
	return env
}

func TestOwnershipConflicts(t *testing.T) {
	prod := envAt("prod", "main", "overlays/prod", gitgate.StrategyImages)
	prod.Spec.FluxKustomization = &gitgate.ObjectReference{Namespace: "flux-system", Name: "apps-prod"}
	gitflowProd := envAt("prod", "release", "deploy", gitgate.StrategyMerge)
	cases := []struct {
		name   string
		env    *gitgate.Environment
		others []*gitgate.Environment
		want   string // "" means no conflict
	}{
		{"free: another directory on the same branch", envAt("dev", "main", "overlays/dev", gitgate.StrategyImages), []*gitgate.Environment{prod}, ""},
		{"free: the same path on another branch", envAt("dev", "dev", "overlays/prod", gitgate.StrategyImages), []*gitgate.Environment{prod}, ""},
		{"free: a sibling whose name starts like prod's", envAt("x", "main", "overlays/prod2", gitgate.StrategyImages), []*gitgate.Environment{prod}, ""},
		{"free: itself, by name", prod, []*gitgate.Environment{prod}, ""},
		{"conflict: the same path", envAt("sneak", "main", "overlays/prod", gitgate.StrategyImages), []*gitgate.Environment{prod},
			"spec.path: Invalid value: \"overlays/prod\": environment sneak (branch main, path overlays/prod) overlaps environment prod (branch main, path overlays/prod)"},
		{"conflict: the same path spelled differently", envAt("sneak", "main", "./overlays/prod/", gitgate.StrategyImages), []*gitgate.Environment{prod},
			"overlaps environment prod"},
		{"conflict: a path inside prod's", envAt("sneak", "main", "overlays/prod/x", gitgate.StrategyImages), []*gitgate.Environment{prod},
			"no two environments share or nest them"},
		{"conflict: a path around prod's", envAt("sneak", "main", "overlays", gitgate.StrategyImages), []*gitgate.Environment{prod},
			"overlaps environment prod"},
		{"conflict: Merge owns the whole branch", envAt("sneak", "main", "deploy", gitgate.StrategyMerge), []*gitgate.Environment{prod},
			"spec.strategy: Invalid value: \"Merge\": environment sneak (strategy Merge: the whole branch main) overlaps environment prod"},
		{"conflict: beside a Merge environment's branch", envAt("sneak", "release", "other", gitgate.StrategyImages), []*gitgate.Environment{gitflowProd},
			"overlaps environment prod (strategy Merge: the whole branch release)"},
		{"conflict: prod's Kustomization with the namespace left to its default", func() *gitgate.Environment {
			e := envAt("dev", "main", "overlays/dev", gitgate.StrategyImages)
			e.Spec.FluxKustomization = &gitgate.ObjectReference{Name: "apps-prod"}
			return e
		}(), []*gitgate.Environment{prod},
			"spec.fluxKustomization: Invalid value: \"flux-system/apps-prod\": Flux Kustomization flux-system/apps-prod is claimed by environment prod already"},
		{"free: a Kustomization of that name in another namespace", func() *gitgate.Environment {
			e := envAt("dev", "main", "overlays/dev", gitgate.StrategyImages)
			e.Spec.FluxKustomization = &gitgate.ObjectReference{Namespace: "tenants", Name: "apps-prod"}
			return e
		}(), []*gitgate.Environment{prod}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ownershipConflicts(tc.env, tc.others)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("want no conflict, got %v", errs)
			case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
				t.Fatalf("want an error containing %q, got %v", tc.want, errs)
			}
		})
	}
}

// TestEnvironmentWritesKeepOwnership tries each redirect of issue 13 on
// the engine against a real Git server: every one is a 422 (or 409) that
// names what is in the way, and main does not move.
func TestEnvironmentWritesKeepOwnership(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	f.commitFile("main", "overlays/qa/kustomization.yaml", "resources:\n- ../../base\nimages:\n- name: app\n  newTag: qa-1\n")
	e := f.engine("main")
	ctx := context.Background()
	before := f.remoteHead("main")
	dev := mustEnv(t, e.Snapshot(), "dev")

	cases := []struct {
		name  string
		op    func() (*gitgate.Environment, error)
		field string // the field the 422 names; "conflict" for a 409
		want  string
	}{
		{"refused: a new environment on prod's path", func() (*gitgate.Environment, error) {
			return e.CreateEnvironment(ctx, EnvironmentWrite{Environment: envAt("sneak", "", "overlays/prod", gitgate.StrategyImages)})
		}, "spec.path", "overlaps environment prod (branch main, path overlays/prod)"},
		{"refused: a new environment inside prod's path", func() (*gitgate.Environment, error) {
			return e.CreateEnvironment(ctx, EnvironmentWrite{Environment: envAt("sneak", "", "overlays/prod/extra", gitgate.StrategyImages)})
		}, "spec.path", "overlaps environment prod"},
		{"refused: a new environment on base, which every overlay builds from", func() (*gitgate.Environment, error) {
			return e.CreateEnvironment(ctx, EnvironmentWrite{Environment: envAt("sneak", "", "base", gitgate.StrategyImages)})
		}, "spec.path", "from base: a promotion or seal into base would change"},
		{"refused: a Merge environment on the branch prod lives on", func() (*gitgate.Environment, error) {
			return e.CreateEnvironment(ctx, EnvironmentWrite{Environment: envAt("sneak", "", "overlays/qa", gitgate.StrategyMerge)})
		}, "spec.strategy", "the whole branch main"},
		{"refused: dev moved to prod's path", func() (*gitgate.Environment, error) {
			moved := dev.DeepCopy()
			moved.Spec.Path = "overlays/prod"
			return e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: moved})
		}, "spec.path", "is immutable"},
		{"refused: dev moved to a review branch", func() (*gitgate.Environment, error) {
			moved := dev.DeepCopy()
			moved.Spec.Branch = "gitgate/promotions/prod-1"
			return e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: moved})
		}, "spec.branch", "reserves for review branches"},
		{"refused: dev claims prod's Kustomization, namespace left out", func() (*gitgate.Environment, error) {
			claim := dev.DeepCopy()
			claim.Spec.FluxKustomization = &gitgate.ObjectReference{Name: "apps-prod"}
			return e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: claim})
		}, "spec.fluxKustomization", "claimed by environment prod already"},
		{"refused: an update decided against another definition", func() (*gitgate.Environment, error) {
			tighter := dev.DeepCopy()
			tighter.Spec.Review = true
			expect := dev.Spec.DeepCopy()
			expect.ImageTagPattern = "^what-was-read$"
			return e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: tighter, Expect: expect})
		}, "conflict", "changed in Git while this request was being authorized"},
		{"refused: a delete decided against another definition", func() (*gitgate.Environment, error) {
			expect := dev.Spec.DeepCopy()
			expect.Review = true
			return e.DeleteEnvironment(ctx, EnvironmentWrite{Environment: dev.DeepCopy(), Expect: expect})
		}, "conflict", "changed in Git while this request was being authorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.op()
			if tc.field == "conflict" {
				if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want a conflict containing %q", err, tc.want)
				}
			} else {
				var inv *InvalidError
				if !errors.As(err, &inv) || inv.Errors[0].Field != tc.field || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want a 422 on %s containing %q", err, tc.field, tc.want)
				}
			}
			if after := f.remoteHead("main"); after != before {
				t.Fatalf("a refused write moved main from %s to %s", before, after)
			}
		})
	}

	// A free directory is fine, and tightening needs nothing special here.
	qa := envAt("qa", "", "overlays/qa", gitgate.StrategyImages)
	qa.Spec.FluxKustomization = &gitgate.ObjectReference{Name: "apps-qa"}
	created, err := e.CreateEnvironment(ctx, EnvironmentWrite{Environment: qa, User: "platform"})
	if err != nil {
		t.Fatalf("an environment on a free directory: %v", err)
	}
	if ns := created.Spec.FluxKustomization.Namespace; ns != "flux-system" {
		t.Errorf("created fluxKustomization namespace = %q, want the flux-system default", ns)
	}
	if file := f.show("main", ".gitgate/environments/qa.yaml"); !strings.Contains(file, "namespace: flux-system") {
		t.Errorf("the definition in Git does not carry the defaulted namespace:\n%s", file)
	}
	tight := created.DeepCopy()
	tight.Spec.Review = true
	if _, err := e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: tight, Expect: &created.Spec}); err != nil {
		t.Fatalf("tightening qa with the definition read: %v", err)
	}
}

// TestConflictingDefinitionsInGitAreUnusable commits, straight to Git, a
// definition that shares prod's path and claims prod's Kustomization: both
// environments turn Ready=False naming each other, and promotions and
// seals into either are refused until Git is fixed.
func TestConflictingDefinitionsInGitAreUnusable(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	f.commitFile("main", ".gitgate/environments/shadow.yaml", "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: shadow}\n"+
		"spec: {path: overlays/prod/, promotesFrom: test, fluxKustomization: {name: apps-prod}}\n")
	e := f.engine("main")
	ctx := context.Background()
	s := e.Snapshot()

	for name, other := range map[string]string{"prod": "shadow", "shadow": "prod"} {
		env := mustEnv(t, s, name)
		ready := apimeta.FindStatusCondition(env.Status.Conditions, gitgate.ConditionReady)
		if ready == nil || ready.Status != "False" || !strings.Contains(ready.Message, "overlaps environment "+other) ||
			!strings.Contains(ready.Message, "claimed by environment "+other) {
			t.Errorf("%s's Ready condition = %+v, want False naming %s's path and Kustomization", name, ready, other)
		}
	}
	if ns := mustEnv(t, s, "shadow").Spec.FluxKustomization.Namespace; ns != "flux-system" {
		t.Errorf("a definition read from Git without a Kustomization namespace has %q, want the flux-system default", ns)
	}
	before := f.remoteHead("main")
	for _, target := range []string{"prod", "shadow"} {
		_, err := e.Promote(ctx, PromotionRequest{Promotion: promotion(target+"-1", target, "test"), User: "alice"})
		if !errors.As(err, new(*InvalidError)) || !strings.Contains(err.Error(), "environment is not usable") || !strings.Contains(err.Error(), "overlaps environment") {
			t.Errorf("promotion into %s: %v, want a 422 naming the overlap", target, err)
		}
		if _, err := e.CommitSealedSecret(ctx, sealWrite(target, "shop-prod")); !errors.As(err, new(*InvalidError)) || !strings.Contains(err.Error(), "overlaps environment") {
			t.Errorf("seal into %s: %v, want a 422 naming the overlap", target, err)
		}
	}
	if after := f.remoteHead("main"); after != before {
		t.Fatalf("refused writes moved main from %s to %s", before, after)
	}

	// Fixing Git makes prod usable again.
	f.commitFile("main", ".gitgate/environments/shadow.yaml", "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: shadow}\nspec: {path: overlays/shadow}\n")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Snapshot().EnvironmentError("prod"); err != nil {
		t.Fatalf("prod after the fix: %v", err)
	}
}
