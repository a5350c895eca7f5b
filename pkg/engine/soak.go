package engine

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// HealthClock tells how long the cluster has run a revision of an
// environment, Healthy: what spec.promotionPolicy.minSoak is measured
// with. The engine knows Git, not the cluster, so the server gives it one.
type HealthClock interface {
	// HealthySince is when env's Flux Kustomization became Healthy at a
	// revision that contains commit (made at committed). healthy is false
	// while it is not Healthy there, and why says what it is instead.
	HealthySince(e *Engine, env *gitgate.Environment, commit gitstore.Hash, committed time.Time) (since time.Time, healthy bool, why string)
}

// healthySince is a HealthClock bound to an engine.
type healthySince func(env *gitgate.Environment, commit gitstore.Hash, committed time.Time) (since time.Time, healthy bool, why string)

// checkSoak refuses (422) a promotion into an environment with a minSoak
// unless it takes what its upstream runs now, and the upstream has run it
// Healthy for the soak. A rollback (from the environment itself) is not
// gated: it goes back to what the environment already ran.
//
// The soak is measured at the upstream's current revision (the last commit
// that changed its path), not at the promoted commit: a commit elsewhere on
// the branch does not restart it, and an older revision cannot borrow the
// time of a newer one that contains it (every revision Flux applied after
// the current one has the same overlay; one after an older commit may not).
func (pn planner) checkSoak(p *gitgate.Promotion, pl *plan) error {
	soak := validation.MinSoak(&pl.target.Spec)
	if soak <= 0 || pl.source.Name == pl.target.Name {
		return nil
	}
	refuse := func(reason string) error {
		return invalid("Promotion", p.Name, field.Forbidden(specPath.Child("from"), fmt.Sprintf(
			"%s requires what it is promoted from to have been Healthy in %s for %s first (spec.promotionPolicy.minSoak): %s",
			pl.target.Name, pl.source.Name, soak, reason)))
	}
	if pl.source.Name != pl.target.Spec.PromotesFrom {
		return refuse(fmt.Sprintf("with a soak, %s takes promotions from its promotesFrom (%q) only, where the soak is measured",
			pl.target.Name, pl.target.Spec.PromotesFrom))
	}
	if pl.source.Spec.FluxKustomization == nil {
		return refuse(pl.source.Name + " names no spec.fluxKustomization, so gitgate cannot tell whether it runs " +
			pl.sourceRev.Short() + " Healthy: name its Flux Kustomization")
	}
	if pn.healthySince == nil {
		return refuse("this server does not watch Flux, so it cannot tell how long " + pl.sourceRev.Short() + " has been Healthy")
	}
	current, err := gitstore.ParseHash(pl.source.Status.Revision)
	if err != nil || current.IsZero() {
		return refuse(pl.source.Name + " has no revision yet")
	}
	if current != pl.sourceRev {
		promoted, perr := pn.git.TreeHash(pl.sourceRev, pl.source.Spec.Path)
		now, nerr := pn.git.TreeHash(current, pl.source.Spec.Path)
		if perr != nil || nerr != nil || promoted != now {
			return refuse(fmt.Sprintf("revision %s is not what %s runs now: its %s differs from the current revision %s; promote the current revision",
				pl.sourceRev.Short(), pl.source.Name, pl.source.Spec.Path, current.Short()))
		}
	}
	c, err := pn.git.Commit(current)
	if err != nil {
		return fmt.Errorf("reading the source revision %s: %w", current.Short(), err)
	}
	since, healthy, why := pn.healthySince(pl.source, current, c.Committer.When)
	if !healthy {
		return refuse(fmt.Sprintf("revision %s is not Healthy there yet (%s); try again once it is Healthy and has soaked for %s",
			current.Short(), why, soak))
	}
	healthyFor := pn.now().Sub(since)
	if healthyFor < soak {
		return refuse(fmt.Sprintf("revision %s has been Healthy for %s since %s; %s left",
			current.Short(), healthyFor.Round(time.Second), since.UTC().Format(time.RFC3339), (soak - healthyFor).Round(time.Second)))
	}
	return nil
}
