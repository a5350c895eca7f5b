package v1alpha1

import "github.com/gitgate-dev/gitgate/pkg/apis/gitgate"

// The conditions the engine sets are defined once, in the internal API (the
// engine cannot import this package); these name them for API clients.

// Condition types of an Environment. Ready and GitReachable have positive
// polarity (True is good); Drift and PlaintextSecrets negative (True is bad).
const (
	// ConditionReady is True while the environment's definition and overlay
	// can be read and built.
	ConditionReady = gitgate.ConditionReady
	// ConditionGitReachable is True while the last fetch of the repository worked.
	ConditionGitReachable = gitgate.ConditionGitReachable
	// ConditionDrift is True while objects of the environment carry
	// break-glass changes that Git has not caught up with (negative polarity).
	ConditionDrift = gitgate.ConditionDrift
	// ConditionPlaintextSecrets is True while the environment's overlay
	// renders plain Secrets: secrets someone committed to Git unencrypted
	// (negative polarity).
	ConditionPlaintextSecrets = gitgate.ConditionPlaintextSecrets
)

// Condition types of a Promotion, all of positive polarity. Succeeded is
// read from Git; Applied and Healthy are derived when the Promotion is read,
// from the Flux Kustomization of the target environment, and never stored.
const (
	// ConditionSucceeded is the bounded condition of a Promotion: its
	// commit is on the environment branch.
	ConditionSucceeded = gitgate.ConditionSucceeded
	// ConditionApplied is True once the target environment's Flux
	// Kustomization applied a revision that contains the promotion's commit
	// (the commit itself or a descendant of it).
	ConditionApplied = "Applied"
	// ConditionHealthy is True while that Kustomization is Ready (its health
	// checks passed) at a revision that contains the promotion's commit.
	ConditionHealthy = "Healthy"
)

// Reasons of the Environment conditions.
const (
	// ReasonResolved (Ready=True): the definition and overlay were read.
	ReasonResolved = gitgate.ReasonResolved
	// ReasonInvalidEnvironment (Ready=False): the definition is invalid.
	ReasonInvalidEnvironment = gitgate.ReasonInvalidEnvironment
	// ReasonRenderFailed (Ready=False): kustomize cannot build the overlay.
	ReasonRenderFailed = gitgate.ReasonRenderFailed
	// ReasonFetchSucceeded (GitReachable=True): the last fetch worked.
	ReasonFetchSucceeded = gitgate.ReasonFetchSucceeded
	// ReasonFetchFailed (GitReachable=False): the last fetch failed.
	ReasonFetchFailed = gitgate.ReasonFetchFailed
	// ReasonInSync (Drift=False): no break-glass change since the last commit.
	ReasonInSync = "InSync"
	// ReasonBreakGlass (Drift=True): break-glass changes are recorded
	// against the environment since its last commit.
	ReasonBreakGlass = "BreakGlass"
	// ReasonPlainSecretsInGit (PlaintextSecrets=True): the overlay renders
	// plain Secrets.
	ReasonPlainSecretsInGit = gitgate.ReasonPlainSecretsInGit
)

// Reasons of the Promotion conditions.
const (
	// ReasonPromoted (Succeeded=True): the commit is on the environment branch.
	ReasonPromoted = gitgate.ReasonPromoted
	// ReasonAwaitingReview (Succeeded=Unknown): the commit waits on a review branch.
	ReasonAwaitingReview = gitgate.ReasonAwaitingReview
	// ReasonSuperseded (Succeeded=False): a later promotion won first.
	ReasonSuperseded = gitgate.ReasonSuperseded
	// ReasonApplied (Applied=True): Flux applied a revision that contains the commit.
	ReasonApplied = "Applied"
	// ReasonHealthy (Healthy=True): the Kustomization is Ready at such a revision.
	ReasonHealthy = "Healthy"
	// ReasonProgressing (Applied or Healthy Unknown): Flux has not reached
	// a verdict on a revision that contains the commit yet.
	ReasonProgressing = "Progressing"
	// ReasonFailed (Applied or Healthy False): the Kustomization is not
	// Ready for a revision that contains the commit; the message is Flux's.
	ReasonFailed = "Failed"
	// ReasonNoKustomization (Applied and Healthy Unknown): the target
	// environment names no Flux Kustomization, or gitgate cannot see it
	// (not created yet, or Flux is not installed).
	ReasonNoKustomization = "NoKustomization"
)
