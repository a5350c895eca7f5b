package clusterstate

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// maxPromotionsPerChange bounds the promotions, newest first, whose state
// a change of one Kustomization is checked against: older ones were
// applied long ago and stay so.
const maxPromotionsPerChange = 50

// PromotionState derives the Applied and Healthy conditions of p, a
// promotion of e's snapshot s, from the current Flux Kustomization of its
// target environment; false for a promotion that is not Succeeded (its
// commit is not on the environment branch, so Flux cannot apply it).
func (s *State) PromotionState(e *engine.Engine, snap *engine.Snapshot, p *gitgate.Promotion) (PromotionState, bool) {
	ref := kustomizationRef(snap, p)
	var k *Kustomization
	if ref != "" {
		if got, ok := s.flux.kustomizationByKey(ref); ok {
			k = &got
		}
	}
	return s.promotionStateWith(e, p, ref, k)
}

func (s *State) promotionStateWith(e *engine.Engine, p *gitgate.Promotion, ref string, k *Kustomization) (PromotionState, bool) {
	if p.Status.Phase != gitgate.PromotionSucceeded || p.Status.Commit == "" || p.Status.Time == nil {
		return PromotionState{}, false
	}
	contains := func(revision string) bool { return s.Contains(e, revision, p.Status.Commit) }
	return DerivePromotion(k, ref, p.Status.Time.Time, contains), true
}

// kustomizationRef is namespace/name of the Flux Kustomization of p's
// target environment, "" when it names none.
func kustomizationRef(snap *engine.Snapshot, p *gitgate.Promotion) string {
	env, err := snap.Environment(p.Spec.Environment)
	if err != nil || env.Spec.FluxKustomization == nil {
		return ""
	}
	ref := env.Spec.FluxKustomization
	return ref.Namespace + "/" + ref.Name
}

// PromotionsTouched calls fn for each promotion of e's snapshot whose state
// a change of Kustomization key from before to after changes, with both
// states, newest first and at most maxPromotionsPerChange per environment.
func (s *State) PromotionsTouched(e *engine.Engine, snap *engine.Snapshot, key string, before, after *Kustomization, fn func(p *gitgate.Promotion, was, now PromotionState)) {
	for _, env := range snap.Environments() {
		ref := env.Spec.FluxKustomization
		if ref == nil || ref.Namespace+"/"+ref.Name != key {
			continue
		}
		for i, p := range snap.Promotions(env.Name) {
			if i == maxPromotionsPerChange {
				break
			}
			was, ok := s.promotionStateWith(e, p, key, before)
			if !ok {
				continue
			}
			now, _ := s.promotionStateWith(e, p, key, after)
			if !Same(was, now) {
				fn(p, was, now)
			}
		}
	}
}

// promotionEvents writes an Event on a Promotion for each transition of its
// state (Applied, Healthy, Failed) that this replica sees: a Kustomization
// seen for the first time (at start) is a baseline, not a transition.
type promotionEvents struct {
	state    *State
	repos    Repositories
	recorder events.EventRecorder
}

func (p *promotionEvents) observe(key string, before, after *Kustomization) {
	if before == nil || after == nil {
		return
	}
	for _, ns := range p.repos.Namespaces() {
		e, _, ok := p.repos.Engine(ns)
		if !ok {
			continue
		}
		p.state.PromotionsTouched(e, e.Snapshot(), key, before, after, func(promo *gitgate.Promotion, was, now PromotionState) {
			ref := &corev1.ObjectReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Promotion", Namespace: ns, Name: promo.Name}
			for _, t := range Transitions(was, now) {
				kind := corev1.EventTypeNormal
				if t.Warning {
					kind = corev1.EventTypeWarning
				}
				p.recorder.Eventf(ref, nil, kind, t.Reason, "Reconcile", "%s", t.Message)
			}
		})
	}
}

// HealthySince is when env's Flux Kustomization became Healthy at a
// revision that contains commit (made at committed), as a promotion of
// that commit would be told: it measures spec.promotionPolicy.minSoak.
// healthy is false, with Flux's account of why, while it is not Healthy
// there.
func (s *State) HealthySince(e *engine.Engine, env *gitgate.Environment, commit gitstore.Hash, committed time.Time) (since time.Time, healthy bool, why string) {
	ref := env.Spec.FluxKustomization
	if ref == nil {
		return time.Time{}, false, "environment " + env.Name + " names no spec.fluxKustomization"
	}
	key := ref.Namespace + "/" + ref.Name
	var k *Kustomization
	if got, ok := s.flux.kustomizationByKey(key); ok {
		k = &got
	}
	contains := func(revision string) bool { return s.Contains(e, revision, commit.String()) }
	st := DerivePromotion(k, key, committed, contains)
	if st.Healthy.Status != metav1.ConditionTrue {
		return time.Time{}, false, st.Healthy.Message
	}
	return st.Healthy.LastTransitionTime.Time, true, ""
}
