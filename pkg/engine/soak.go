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

// checkSoak refuses (422) a promotion whose source revision has not
// been Healthy in the source environment for the target's minSoak. A
// rollback (from the environment itself) is not gated: it goes back to
// what the environment already ran.
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
	if pl.source.Spec.FluxKustomization == nil {
		return refuse(pl.source.Name + " names no spec.fluxKustomization, so gitgate cannot tell whether it runs " +
			pl.sourceRev.Short() + " Healthy: name its Flux Kustomization")
	}
	if pn.healthySince == nil {
		return refuse("this server does not watch Flux, so it cannot tell how long " + pl.sourceRev.Short() + " has been Healthy")
	}
	c, err := pn.git.Commit(pl.sourceRev)
	if err != nil {
		return fmt.Errorf("reading the source revision %s: %w", pl.sourceRev.Short(), err)
	}
	since, healthy, why := pn.healthySince(pl.source, pl.sourceRev, c.Committer.When)
	if !healthy {
		return refuse(fmt.Sprintf("revision %s is not Healthy there yet (%s); try again once it is Healthy and has soaked for %s",
			pl.sourceRev.Short(), why, soak))
	}
	healthyFor := pn.now().Sub(since)
	if healthyFor < soak {
		return refuse(fmt.Sprintf("revision %s has been Healthy for %s since %s; %s left",
			pl.sourceRev.Short(), healthyFor.Round(time.Second), since.UTC().Format(time.RFC3339), (soak - healthyFor).Round(time.Second)))
	}
	return nil
}
