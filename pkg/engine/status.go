package engine

import (
	"fmt"
	"path"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
	"github.com/gitgate-dev/gitgate/pkg/kustomization"
)

// computeStatusLocked fills st.env.Status from the branch heads and the
// promotion history, and records why the environment is unusable, if it is.
func (e *Engine) computeStatusLocked(s *Snapshot, st *envState) {
	env := st.env
	env.Status = gitgate.EnvironmentStatus{}
	var renderErr error
	var plainSecrets []string
	if st.err == nil {
		if overlay, rev, err := e.overlayLocked(s, &env.Spec); err != nil {
			st.err = err
		} else {
			head := s.heads[env.Spec.Branch]
			env.Status.Revision = rev.String()
			env.Status.Namespace = overlay.namespace
			st.current = e.currentChainLocked(env.Spec.Branch, env.Spec.Path, head, rev)
			if c, err := e.repo.Commit(rev); err == nil {
				st.revisionTime = c.Committer.When
			}
			var out *kustomization.Rendered
			if out, renderErr = e.renderLocked(env.Spec.Branch, head, env.Spec.Path); renderErr == nil {
				env.Status.Images = effectiveImages(overlay.images, out.Images)
				plainSecrets = describePlainSecrets(out)
			} else {
				env.Status.Images = effectiveImages(overlay.images, nil)
			}
		}
	}
	if st.err == nil && env.Spec.PromotesFrom != "" {
		env.Status.Upstream = e.upstreamLocked(s, env)
	}
	for _, p := range s.Promotions(env.Name) {
		if p.Status.Phase == gitgate.PromotionSucceeded {
			env.Status.LastPromotion = &gitgate.PromotionReference{
				Name: p.Name, PromotedBy: p.Status.PromotedBy, Commit: p.Status.Commit, Time: p.Status.Time,
			}
			break
		}
	}
	now := metav1.NewTime(s.reach.at)
	ready := metav1.Condition{Type: gitgate.ConditionReady, Status: metav1.ConditionTrue, Reason: gitgate.ReasonResolved,
		Message: "definition and overlay read from " + env.Spec.Branch + ":" + env.Spec.Path, LastTransitionTime: now}
	switch {
	case st.err != nil:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, gitgate.ReasonInvalidEnvironment, st.err.Errors.ToAggregate().Error()
	case renderErr != nil:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, gitgate.ReasonRenderFailed,
			"kustomize cannot build "+env.Spec.Path+": "+renderErr.Error()
	}
	reach := metav1.Condition{Type: gitgate.ConditionGitReachable, Status: metav1.ConditionTrue, Reason: gitgate.ReasonFetchSucceeded,
		Message: "the repository was fetched", LastTransitionTime: now}
	if !s.reach.ok {
		reach.Status, reach.Reason, reach.Message = metav1.ConditionFalse, gitgate.ReasonFetchFailed, s.reach.message+"; serving the last state read"
	}
	// Keep each condition's transition time while its status stays.
	if prev, ok := e.snap.Load().envs[env.Name]; ok {
		env.Status.Conditions = append([]metav1.Condition(nil), prev.env.Status.Conditions...)
	}
	apimeta.SetStatusCondition(&env.Status.Conditions, ready)
	apimeta.SetStatusCondition(&env.Status.Conditions, reach)
	if len(plainSecrets) > 0 {
		apimeta.SetStatusCondition(&env.Status.Conditions, plaintextCondition(env, plainSecrets, now))
	} else {
		apimeta.RemoveStatusCondition(&env.Status.Conditions, gitgate.ConditionPlaintextSecrets)
	}
}

// describePlainSecrets lists the plain Secrets a render holds, each with the
// files it comes from when they can be told.
func describePlainSecrets(out *kustomization.Rendered) []string {
	described := make([]string, 0, len(out.PlainSecrets))
	for _, s := range out.PlainSecrets {
		if files := out.PlainSecretSources[path.Base(s)]; len(files) > 0 {
			s += " (" + strings.Join(files, ", ") + ")"
		}
		described = append(described, s)
	}
	return described
}

// plaintextCondition names the plain Secrets an environment's overlay renders.
func plaintextCondition(env *gitgate.Environment, secrets []string, now metav1.Time) metav1.Condition {
	return metav1.Condition{
		Type: gitgate.ConditionPlaintextSecrets, Status: metav1.ConditionTrue, Reason: gitgate.ReasonPlainSecretsInGit, LastTransitionTime: now,
		Message: fmt.Sprintf("%s:%s renders %d plain Secret(s) whose values are readable in Git: %s; replace each with a SealedSecret (kubectl gitgate seal --environment %s), remove the plain one, and rotate the exposed values",
			env.Spec.Branch, env.Spec.Path, len(secrets), strings.Join(secrets, ", "), env.Name),
	}
}

// overlayLocked reads an environment's overlay at its branch head, and the
// commit that last changed the overlay directory.
func (e *Engine) overlayLocked(s *Snapshot, spec *gitgate.EnvironmentSpec) (overlayFile, gitstore.Hash, *InvalidError) {
	head, ok := s.heads[spec.Branch]
	if !ok {
		return overlayFile{}, gitstore.ZeroHash, &InvalidError{Kind: "Environment", Errors: field.ErrorList{
			field.NotFound(field.NewPath("spec", "branch"), spec.Branch)}}
	}
	overlay, err := e.overlayAtLocked(head, spec.Path)
	if err != nil {
		return overlayFile{}, gitstore.ZeroHash, err
	}
	return overlay, e.lastTouchLocked(head, spec.Path), nil
}

// upstreamLocked compares an environment with its upstream: the changes a
// promotion from upstream would make now.
func (e *Engine) upstreamLocked(s *Snapshot, env *gitgate.Environment) *gitgate.UpstreamStatus {
	up, ok := s.envs[env.Spec.PromotesFrom]
	if !ok || up.err != nil {
		return &gitgate.UpstreamStatus{Environment: env.Spec.PromotesFrom}
	}
	status := &gitgate.UpstreamStatus{Environment: up.env.Name}
	upHead := s.heads[up.env.Spec.Branch]
	status.Revision = upHead.String()
	switch env.Spec.Strategy {
	case gitgate.StrategyMerge:
		head := s.heads[env.Spec.Branch]
		ht, _ := e.repo.TreeHash(head, "")
		ut, _ := e.repo.TreeHash(upHead, "")
		if ht != ut {
			status.Pending = []gitgate.Change{{Name: env.Spec.Branch, From: head.Short(), To: upHead.Short()}}
		}
	default:
		upImages, err := e.imagesAtLocked(upHead, up.env.Spec.Path)
		if err != nil {
			return status
		}
		images, _ := e.imagesAtLocked(s.heads[env.Spec.Branch], env.Spec.Path)
		status.Pending = imageChanges(images, upImages, nil)
	}
	return status
}
