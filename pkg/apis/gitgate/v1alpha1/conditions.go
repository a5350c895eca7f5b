package v1alpha1

// Condition types of an Environment. Ready and GitReachable have positive
// polarity (True is good); Drift and PlaintextSecrets negative (True is bad).
const (
	// ConditionReady is True while the environment's definition and overlay
	// can be read and built.
	ConditionReady = "Ready"
	// ConditionGitReachable is True while the last fetch of the repository worked.
	ConditionGitReachable = "GitReachable"
	// ConditionDrift is True while objects of the environment carry
	// break-glass changes that Git has not caught up with (negative polarity).
	ConditionDrift = "Drift"
	// ConditionPlaintextSecrets is True while the environment's overlay
	// renders plain Secrets: secrets someone committed to Git unencrypted
	// (negative polarity).
	ConditionPlaintextSecrets = "PlaintextSecrets"
)

// Condition types of a Promotion, all of positive polarity. Succeeded is
// read from Git; Applied and Healthy are derived when the Promotion is read,
// from the Flux Kustomization of the target environment, and never stored.
const (
	// ConditionSucceeded is the bounded condition of a Promotion: its
	// commit is on the environment branch.
	ConditionSucceeded = "Succeeded"
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
	ReasonResolved = "Resolved"
	// ReasonInvalidEnvironment (Ready=False): the definition is invalid.
	ReasonInvalidEnvironment = "InvalidEnvironment"
	// ReasonRenderFailed (Ready=False): kustomize cannot build the overlay.
	ReasonRenderFailed = "RenderFailed"
	// ReasonFetchSucceeded (GitReachable=True): the last fetch worked.
	ReasonFetchSucceeded = "FetchSucceeded"
	// ReasonFetchFailed (GitReachable=False): the last fetch failed.
	ReasonFetchFailed = "FetchFailed"
	// ReasonInSync (Drift=False): no break-glass change since the last commit.
	ReasonInSync = "InSync"
	// ReasonBreakGlass (Drift=True): break-glass changes are recorded
	// against the environment since its last commit.
	ReasonBreakGlass = "BreakGlass"
	// ReasonPlainSecretsInGit (PlaintextSecrets=True): the overlay renders
	// plain Secrets.
	ReasonPlainSecretsInGit = "PlainSecretsInGit"
)

// Reasons of the Promotion conditions.
const (
	// ReasonPromoted (Succeeded=True): the commit is on the environment branch.
	ReasonPromoted = "Promoted"
	// ReasonAwaitingReview (Succeeded=Unknown): the commit waits on a review branch.
	ReasonAwaitingReview = "AwaitingReview"
	// ReasonSuperseded (Succeeded=False): a later promotion won first.
	ReasonSuperseded = "Superseded"
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
