package clusterstate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// trunkHistory serves the trunk example fleet from a real Git server and
// makes one commit on it (freezing dev), so that its history is
// before ← commit. It returns the engine, both commits and prod's
// definition (its fluxKustomization is flux-system/apps-prod).
func trunkHistory(t *testing.T) (e *engine.Engine, before, commit gitstore.Hash, prod *gitgate.Environment) {
	t.Helper()
	ctx := context.Background()
	git, err := gitserver.Start(gitserver.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = git.Stop() })
	if _, err := git.InitRepository(ctx, "fleet", filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main"); err != nil {
		t.Fatal(err)
	}
	e, err = engine.New(engine.Options{Repository: gitstore.Options{URL: git.URL("fleet"), Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, made, err := e.SetFreeze(ctx, engine.FreezeSwitch{Environment: "dev", Frozen: true, Reason: "a commit for the history", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	history, _, err := e.Ancestors(made, 2)
	if err != nil || len(history) != 2 {
		t.Fatalf("the history of %s: %v, %v; want it and its parent", made, history, err)
	}
	if commit, err = gitstore.ParseHash(history[0]); err != nil {
		t.Fatal(err)
	}
	if before, err = gitstore.ParseHash(history[1]); err != nil {
		t.Fatal(err)
	}
	if prod, err = e.Snapshot().Environment("prod"); err != nil {
		t.Fatal(err)
	}
	return e, before, commit, prod
}

// TestHealthySince measures a promotion's soak on a real history: the
// commit is the one promoted, made at committed; Flux's Kustomization
// apps-prod is as each case says.
func TestHealthySince(t *testing.T) {
	e, before, commit, prod := trunkHistory(t)
	at := func(h gitstore.Hash) string { return "main@sha1:" + h.String() }
	unknown := "main@sha1:ffffffffffffffffffffffffffffffffffffffff"
	noKustomization := prod.DeepCopy()
	noKustomization.Spec.FluxKustomization = nil
	ready := func(rev string, since time.Time, history ...Reconciled) *Kustomization {
		return &Kustomization{Ready: true, ReadyStatus: metav1.ConditionTrue, ReadyReason: "ReconciliationSucceeded",
			AppliedRevision: rev, AttemptedRevision: rev, ReadySince: since, History: history}
	}

	for _, tc := range []struct {
		name           string
		env            *gitgate.Environment
		kustomizations map[string]*Kustomization // what Flux shows, by namespace/name
		since          time.Time                 // zero: not healthy
		why            string                    // in why, when not healthy
	}{
		{name: "healthy since Flux first applied the commit: Ready True at its revision",
			env: prod,
			kustomizations: map[string]*Kustomization{"flux-system/apps-prod": ready(at(commit), flux.Add(time.Minute),
				Reconciled{Revision: at(commit), First: flux, Status: reconciliationSucceeded})},
			since: flux},
		{name: "healthy since the Ready transition, when Flux's history has no entry for it",
			env:            prod,
			kustomizations: map[string]*Kustomization{"flux-system/apps-prod": ready(at(commit), flux.Add(time.Minute))},
			since:          flux.Add(time.Minute)},
		{name: "healthy since the commit, never before: Ready since before it was made",
			env:            prod,
			kustomizations: map[string]*Kustomization{"flux-system/apps-prod": ready(at(commit), committed.Add(-time.Hour))},
			since:          committed},
		{name: "not healthy: Ready False at the commit's revision, with Flux's message",
			env: prod,
			kustomizations: map[string]*Kustomization{"flux-system/apps-prod": {ReadyStatus: metav1.ConditionFalse, ReadyReason: "HealthCheckFailed",
				Message: "timeout waiting for: [Deployment/shop/app status: 'InProgress']", AppliedRevision: at(before), AttemptedRevision: at(commit), ReadySince: flux}},
			why: "(HealthCheckFailed): timeout waiting for: [Deployment/shop/app"},
		{name: "not healthy: applied, Flux's health checks still running",
			env: prod,
			kustomizations: map[string]*Kustomization{"flux-system/apps-prod": {ReadyStatus: metav1.ConditionUnknown, ReadyReason: "Progressing",
				Message: "running health checks", AppliedRevision: at(commit), AttemptedRevision: at(commit), ReadySince: flux}},
			why: "applied the commit and is not Ready yet: running health checks"},
		{name: "not healthy: Ready True at the revision before the commit",
			env:            prod,
			kustomizations: map[string]*Kustomization{"flux-system/apps-prod": ready(at(before), flux)},
			why:            "to apply a revision that contains the commit; it last reconciled " + at(before)},
		{name: "not healthy: Ready True at a revision the mirror does not know",
			env:            prod,
			kustomizations: map[string]*Kustomization{"flux-system/apps-prod": ready(unknown, flux)},
			why:            "it last reconciled " + unknown},
		{name: "not healthy: another environment's Kustomization is Ready at the commit",
			env:            prod,
			kustomizations: map[string]*Kustomization{"flux-system/apps-dev": ready(at(commit), flux)},
			why:            "Flux Kustomization flux-system/apps-prod is not found: not created yet, or Flux is not installed"},
		{name: "not healthy: the environment names no Kustomization",
			env:            noKustomization,
			kustomizations: map[string]*Kustomization{"flux-system/apps-prod": ready(at(commit), flux)},
			why:            "environment prod names no spec.fluxKustomization"},
		{name: "not healthy: Flux is not watched (not installed, or its informers not started)",
			env: prod,
			why: "Flux Kustomization flux-system/apps-prod is not found: not created yet, or Flux is not installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &State{flux: newFluxObjects(nil, nil, func(string, *Kustomization, *Kustomization) {}), ancestry: newAncestry()}
			for key, k := range tc.kustomizations {
				s.flux.kustomizations[key] = k
			}
			since, healthy, why := s.HealthySince(e, tc.env, commit, committed)
			if tc.since.IsZero() {
				if healthy || !since.IsZero() {
					t.Fatalf("healthy since %s, want not healthy (%s)", since, tc.why)
				}
				if !strings.Contains(why, tc.why) {
					t.Errorf("why %q does not say %q", why, tc.why)
				}
				return
			}
			if !healthy || !since.Equal(tc.since) || why != "" {
				t.Errorf("healthy=%v since %s (why %q), want healthy since %s", healthy, since, why, tc.since)
			}
		})
	}
}
