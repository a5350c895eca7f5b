package gitgate

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PromotionStrategy says how a promotion moves changes into an environment.
type PromotionStrategy string

const (
	// StrategyImages copies image tags and digests from the source
	// environment's overlay into the target overlay (trunk-based).
	StrategyImages PromotionStrategy = "Images"
	// StrategyMerge fast-forwards the target branch to the source branch
	// (git-flow).
	StrategyMerge PromotionStrategy = "Merge"
)

// PromotionPhase is where a Promotion stands.
type PromotionPhase string

const (
	// PromotionSucceeded means the promotion commit is on the environment branch.
	PromotionSucceeded PromotionPhase = "Succeeded"
	// PromotionProposed means the promotion commit waits on a review branch.
	PromotionProposed PromotionPhase = "Proposed"
	// PromotionSuperseded means a later promotion into the same environment
	// succeeded before this proposed one was merged.
	PromotionSuperseded PromotionPhase = "Superseded"
)

// Condition types. Environment uses Ready (positive polarity: True is good),
// GitReachable (True while the last fetch of the repository worked) and
// Drift (negative polarity: True is bad).
const (
	ConditionReady        = "Ready"
	ConditionGitReachable = "GitReachable"
	// ConditionDrift is True while objects of the environment carry
	// break-glass changes that Git has not caught up with (negative polarity).
	ConditionDrift = "Drift"
	// ConditionPlaintextSecrets is True while the environment's overlay
	// renders plain Secrets: secrets someone committed to Git unencrypted
	// (negative polarity).
	ConditionPlaintextSecrets = "PlaintextSecrets"
	// ConditionSucceeded is the bounded condition of a Promotion.
	ConditionSucceeded = "Succeeded"
)

// Reasons of the conditions the engine sets (v1alpha1 documents each).
const (
	ReasonResolved           = "Resolved"
	ReasonInvalidEnvironment = "InvalidEnvironment"
	ReasonRenderFailed       = "RenderFailed"
	ReasonFetchSucceeded     = "FetchSucceeded"
	ReasonFetchFailed        = "FetchFailed"
	ReasonPlainSecretsInGit  = "PlainSecretsInGit"
	ReasonPromoted           = "Promoted"
	ReasonAwaitingReview     = "AwaitingReview"
	ReasonSuperseded         = "Superseded"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Environment is one deployment stage of an application, stored as
// .gitgate/environments/<name>.yaml on the repository's default branch.
type Environment struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   EnvironmentSpec
	Status EnvironmentStatus
}

// EnvironmentSpec is what an environment is made of in Git.
type EnvironmentSpec struct {
	// Branch holds the environment. Defaults to the repository's default branch.
	Branch string
	// Path is the kustomize directory of the environment, relative to the
	// repository root.
	Path string
	// PromotesFrom names the upstream environment that promotions come from
	// by default. Environments must not form a cycle.
	PromotesFrom string
	// Strategy is how promotions move changes in: Images (default) or Merge.
	Strategy PromotionStrategy
	// Review, when true, makes promotions land on a review branch
	// gitgate/promotions/<name> instead of Branch.
	Review bool
	// ImageTagPattern is a regular expression that every tag promoted into
	// this environment must match.
	ImageTagPattern string
	// FluxKustomization names the Flux Kustomization that applies this
	// environment, to report its sync status.
	FluxKustomization *ObjectReference
	// Approvals, when set, makes promotions wait on a review branch until
	// enough users approve them.
	Approvals *ApprovalPolicy
	// PromotionPolicy gates promotions into this environment on how the
	// upstream ran what is promoted.
	PromotionPolicy *PromotionPolicy
	// Freeze holds the environment's freeze windows and switch.
	Freeze *FreezeSpec
}

// PromotionPolicy gates promotions into an environment on the cluster.
type PromotionPolicy struct {
	// MinSoak is how long the source environment's Flux Kustomization must
	// have been Healthy at a revision containing the promoted one before
	// it may be promoted; nil or zero: no soak.
	MinSoak *metav1.Duration
}

// ObjectReference names a namespaced object.
type ObjectReference struct {
	Namespace string
	Name      string
}

// EnvironmentStatus is computed from Git (and from Flux, when referenced).
type EnvironmentStatus struct {
	// Revision is the last commit on Branch that changed the environment's
	// path (its overlay directory): later commits that leave the path alone
	// do not move it.
	Revision string
	// Namespace is the namespace the overlay deploys into (its
	// kustomization's namespace: field); sealed secrets for the environment
	// are bound to it.
	Namespace string
	// Images are the images the environment's overlay sets.
	Images []Image
	// Upstream compares the environment with the one it promotes from.
	Upstream *UpstreamStatus
	// LastPromotion is the newest promotion into this environment.
	LastPromotion *PromotionReference
	// Sync is the state of the referenced Flux Kustomization.
	Sync *SyncStatus
	// Freeze says whether the environment is frozen now, until when, and
	// when the next window starts.
	Freeze *FreezeStatus
	// Conditions: Ready, GitReachable, Drift, PlaintextSecrets, Frozen.
	Conditions []metav1.Condition
}

// Image is one image of an environment.
type Image struct {
	// Name is the image name as the kustomization's images: field names it.
	Name string
	// Image is the full reference the environment runs (name:tag@digest).
	Image string
	// NewName replaces the image's repository, when set.
	NewName string
	// Tag is the tag the overlay sets.
	Tag string
	// Digest is the digest the overlay sets.
	Digest string
}

// UpstreamStatus says what a promotion from upstream would change.
type UpstreamStatus struct {
	// Environment is the upstream environment.
	Environment string
	// Revision is the upstream environment's head commit.
	Revision string
	// Pending lists the changes a promotion from upstream would make.
	Pending []Change
}

// Change is one value a promotion changes: an image's tag or digest, or a
// branch's head for the Merge strategy.
type Change struct {
	// Name is the image name, or the branch for the Merge strategy.
	Name string
	// From is the value before the promotion.
	From string
	// To is the value after the promotion.
	To string
}

// PromotionReference points at a promotion.
type PromotionReference struct {
	Name       string
	PromotedBy string
	Commit     string
	Time       *metav1.Time
}

// SyncStatus is the state of the Flux Kustomization that applies an environment.
type SyncStatus struct {
	// Ready is the Kustomization's Ready condition.
	Ready bool
	// AppliedRevision is the revision Flux applied last.
	AppliedRevision string
	// UpToDate is true when the environment's path at AppliedRevision is
	// what its branch holds now: Flux runs the environment's head.
	UpToDate bool
	// Message is the Kustomization's Ready condition message.
	Message string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EnvironmentList is a list of Environments.
type EnvironmentList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Environment
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Promotion moves changes from one environment into the next. Creating one
// makes a Git commit; Promotions are read back from Git history.
type Promotion struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   PromotionSpec
	Status PromotionStatus
}

// PromotionSpec is what to promote.
type PromotionSpec struct {
	// Environment is the target environment.
	Environment string
	// From is the source environment. Defaults to the target's promotesFrom.
	From string
	// Revision is the source commit to promote; defaults to the source
	// environment's head. With From set to the target itself, this is a rollback.
	Revision string
	// Images limits an Images promotion to these image names.
	Images []string
	// Message is added to the commit message.
	Message string
}

// PromotionStatus is read back from the promotion's commit.
type PromotionStatus struct {
	// Phase is Succeeded, Proposed or Superseded.
	Phase PromotionPhase
	// Commit carries the promotion.
	Commit string
	// Branch holds Commit: the environment branch, or the review branch
	// while the promotion is Proposed.
	Branch string
	// SourceRevision is the source commit the promotion copied from.
	SourceRevision string
	// Changes lists what the promotion changed.
	Changes []Change
	// PromotedBy is the Kubernetes user who created the promotion.
	PromotedBy string
	// Time is when the promotion commit was made.
	Time *metav1.Time
	// AppliedAt is when the target environment's Flux Kustomization first
	// applied a revision that contains Commit, as Flux's status.history
	// records it. Derived when the Promotion is read, never stored in Git.
	AppliedAt *metav1.Time
	// ApprovalsRequired is how many approvals the promotion needs (0 when
	// its environment requires none).
	ApprovalsRequired int32
	// Approvals are the approvals of the current plan that count.
	Approvals []ApprovalRecord
	// Rejections are the rejections recorded.
	Rejections []ApprovalRecord
	// Conditions: Succeeded, read from Git; Applied and Healthy, derived
	// from the target environment's Flux Kustomization when the Promotion
	// is read (reasons Applied, Healthy, Progressing, Failed, NoKustomization).
	Conditions []metav1.Condition
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PromotionList is a list of Promotions.
type PromotionList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Promotion
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EnvironmentHistory lists the commits that changed an environment, newest
// first: the environments/<name>/history subresource.
type EnvironmentHistory struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// Entries are the commits, newest first.
	Entries []HistoryEntry
}

// HistoryEntry is one commit that changed an environment's path.
type HistoryEntry struct {
	// Commit is the commit SHA.
	Commit string
	// Time is the commit's author time.
	Time *metav1.Time
	// Author is the commit's author (for promotions: gitgate).
	Author string
	// Subject is the first line of the commit message.
	Subject string
	// Promotion names the promotion the commit carries, if any.
	Promotion string
	// PromotedBy is the promotion's Kubernetes user, if any.
	PromotedBy string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// SealedSecretRequest commits one Bitnami SealedSecret, sealed on the client,
// into an environment's path: the body of the
// environments/<name>/sealedsecrets subresource.
type SealedSecretRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   SealedSecretRequestSpec
	Status SealedSecretRequestStatus
}

// SealedSecretRequestSpec is the SealedSecret and how to commit it.
type SealedSecretRequestSpec struct {
	// SealedSecret is a bitnami.com/v1alpha1 SealedSecret whose namespace is
	// the environment's namespace.
	SealedSecret runtime.RawExtension
	// Overwrite replaces a SealedSecret of the same name in the environment.
	Overwrite bool
	// Message is added to the commit message.
	Message string
}

// SealedSecretRequestStatus says where the SealedSecret was committed.
type SealedSecretRequestStatus struct {
	// Branch is the branch the commit went to.
	Branch string
	// Path is the file that holds the SealedSecret.
	Path string
	// Commit is the commit SHA; empty for a dry run.
	Commit string
	// Replaced is true when an earlier SealedSecret of the name was replaced.
	Replaced bool
}
