package v1alpha1

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

// +genclient
// +genclient:method=GetHistory,verb=get,subresource=history,result=github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1.EnvironmentHistory
// +genclient:method=CreateSealedSecret,verb=create,subresource=sealedsecrets,input=github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1.SealedSecretRequest,result=github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1.SealedSecretRequest
// +genclient:method=CreateFreeze,verb=create,subresource=freeze,input=github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1.EnvironmentFreeze,result=github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1.EnvironmentFreeze
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Environment is one deployment stage of an application, stored as
// .gitgate/environments/<name>.yaml on the repository's default branch.
type Environment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   EnvironmentSpec   `json:"spec,omitempty"`
	Status EnvironmentStatus `json:"status,omitempty"`
}

// EnvironmentSpec is what an environment is made of in Git.
type EnvironmentSpec struct {
	// Branch holds the environment. Defaults to the repository's default
	// branch. Immutable: delete the environment and create it again to move
	// it. Must not be HEAD or under gitgate/ (review branches).
	// +optional
	Branch string `json:"branch,omitempty"`
	// Path is the kustomize directory of the environment, relative to the
	// repository root. The environment owns it and every directory below it
	// on Branch: no two environments of a repository share or nest their
	// paths, and no environment's path is a directory another one's overlay
	// builds from. Must not be the root (.), nor in .git/ or .gitgate/.
	// Immutable: delete the environment and create it again to move it.
	Path string `json:"path"`
	// PromotesFrom names the upstream environment that promotions come from
	// by default. Environments must not form a cycle. Changing it needs the
	// verb promote on the environment as well as update.
	// +optional
	PromotesFrom string `json:"promotesFrom,omitempty"`
	// Strategy is how promotions move changes in: Images (default) or Merge.
	// A Merge environment owns its whole Branch, so no other environment
	// may live on it. Changing it needs the verb promote as well as update.
	// +optional
	Strategy PromotionStrategy `json:"strategy,omitempty"`
	// Review, when true, makes promotions land on a review branch
	// gitgate/promotions/<name> instead of Branch. Switching it off needs the
	// verb promote on the environment as well as update.
	// +optional
	Review bool `json:"review,omitempty"`
	// ImageTagPattern is a regular expression that every tag promoted into
	// this environment must match. It turns on the environment's image
	// rules, which cover the whole reference: a promoted image keeps the
	// newName the overlay has (its registry and repository), and carries a
	// matching tag even when it sets a digest. Removing or changing it needs
	// the verb promote on the environment as well as update.
	// +optional
	ImageTagPattern string `json:"imageTagPattern,omitempty"`
	// FluxKustomization names the Flux Kustomization that applies this
	// environment, to report its sync status; its objects belong to this
	// environment (break-glass is decided on it). Its namespace defaults to
	// flux-system. One Kustomization is claimed by one environment only;
	// releasing it or pointing it elsewhere needs the verb promote on the
	// environment as well as update.
	// +optional
	FluxKustomization *ObjectReference `json:"fluxKustomization,omitempty"`
	// Approvals, when set, makes every promotion into the environment wait
	// as Proposed on its review branch gitgate/promotions/<name> until the
	// required number of users approve it (promotions/<name>/approval);
	// then gitgate lands it on Branch. Lowering or removing it needs the
	// verb promote on the environment as well as update.
	// +optional
	Approvals *ApprovalPolicy `json:"approvals,omitempty"`
	// PromotionPolicy gates promotions into this environment on how the
	// upstream ran what is promoted. Lowering or removing it needs the verb
	// promote on the environment as well as update.
	// +optional
	PromotionPolicy *PromotionPolicy `json:"promotionPolicy,omitempty"`
	// Freeze holds recurring freeze windows and a switch: while frozen, the
	// environment refuses promotions, rollbacks and seals, unless a holder
	// of the verb breakglass overrides with a reason. Removing or changing
	// a window, or switching the freeze off, needs the verb promote on the
	// environment as well as update (or the verb freeze, through the
	// environments/<name>/freeze subresource, for the switch).
	// +optional
	Freeze *FreezeSpec `json:"freeze,omitempty"`
}

// PromotionPolicy gates promotions into an environment on the cluster.
type PromotionPolicy struct {
	// MinSoak is how long the source environment must have run the revision
	// being promoted, Healthy, before it may be promoted here: its Flux
	// Kustomization (spec.fluxKustomization of the source, which must name
	// one) Ready at a revision that contains it for at least this long.
	// A promotion that comes too early is refused (422) with the time
	// left. Rollbacks (from the environment itself) are not gated. At most
	// 720h; omitted or 0s: no soak.
	// +optional
	MinSoak *metav1.Duration `json:"minSoak,omitempty"`
}

// ObjectReference names a namespaced object.
type ObjectReference struct {
	// Namespace of the object; for a fluxKustomization it defaults to flux-system.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name of the object.
	Name string `json:"name"`
}

// EnvironmentStatus is computed from Git (and from Flux, when referenced).
type EnvironmentStatus struct {
	// Revision is the last commit on Branch that changed the environment's
	// path (its overlay directory): later commits that leave the path alone
	// do not move it.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Namespace is the namespace the overlay deploys into (its
	// kustomization's namespace: field); sealed secrets for the environment
	// are bound to it.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Images are the images the environment's overlay sets.
	// +optional
	// +listType=map
	// +listMapKey=name
	Images []Image `json:"images,omitempty"`
	// Upstream compares the environment with the one it promotes from.
	// +optional
	Upstream *UpstreamStatus `json:"upstream,omitempty"`
	// LastPromotion is the newest promotion into this environment.
	// +optional
	LastPromotion *PromotionReference `json:"lastPromotion,omitempty"`
	// Sync is the state of the referenced Flux Kustomization.
	// +optional
	Sync *SyncStatus `json:"sync,omitempty"`
	// Freeze says whether the environment is frozen now, until when, and
	// when the next window starts; computed when the environment is read.
	// +optional
	Freeze *FreezeStatus `json:"freeze,omitempty"`
	// Conditions: Ready, GitReachable, Drift, PlaintextSecrets, Frozen.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Image is one image of an environment.
type Image struct {
	// Name is the image name as the kustomization's images: field names it.
	Name string `json:"name"`
	// Image is the full reference the environment runs (name:tag@digest).
	Image string `json:"image"`
	// NewName replaces the image's repository, when set.
	// +optional
	NewName string `json:"newName,omitempty"`
	// Tag is the tag the overlay sets.
	// +optional
	Tag string `json:"tag,omitempty"`
	// Digest is the digest the overlay sets.
	// +optional
	Digest string `json:"digest,omitempty"`
}

// UpstreamStatus says what a promotion from upstream would change.
type UpstreamStatus struct {
	// Environment is the upstream environment.
	Environment string `json:"environment"`
	// Revision is the upstream environment's head commit.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Pending lists the changes a promotion from upstream would make.
	// +optional
	// +listType=atomic
	Pending []Change `json:"pending,omitempty"`
}

// Change is one value a promotion changes: an image's tag or digest, or a
// branch's head for the Merge strategy.
type Change struct {
	// Name is the image name, or the branch for the Merge strategy.
	Name string `json:"name"`
	// From is the value before the promotion.
	// +optional
	From string `json:"from,omitempty"`
	// To is the value after the promotion.
	To string `json:"to"`
}

// PromotionReference points at a promotion.
type PromotionReference struct {
	Name       string       `json:"name"`
	PromotedBy string       `json:"promotedBy,omitempty"`
	Commit     string       `json:"commit,omitempty"`
	Time       *metav1.Time `json:"time,omitempty"`
}

// SyncStatus is the state of the Flux Kustomization that applies an environment.
type SyncStatus struct {
	// Ready is the Kustomization's Ready condition.
	Ready bool `json:"ready"`
	// AppliedRevision is the revision Flux applied last.
	// +optional
	AppliedRevision string `json:"appliedRevision,omitempty"`
	// UpToDate is true when the environment's path at AppliedRevision is
	// what its branch holds now: Flux runs the environment's head.
	// +optional
	UpToDate bool `json:"upToDate"`
	// Message is the Kustomization's Ready condition message.
	// +optional
	Message string `json:"message,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EnvironmentList is a list of Environments.
type EnvironmentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Environment `json:"items"`
}

// +genclient
// +genclient:onlyVerbs=create,get,list,watch
// +genclient:method=CreateApproval,verb=create,subresource=approval,input=github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1.Approval,result=github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1.Approval
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Promotion moves changes from one environment into the next. Creating one
// makes a Git commit; Promotions are read back from Git history.
type Promotion struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PromotionSpec   `json:"spec,omitempty"`
	Status PromotionStatus `json:"status,omitempty"`
}

// PromotionSpec is what to promote.
type PromotionSpec struct {
	// Environment is the target environment.
	Environment string `json:"environment"`
	// From is the source environment. Defaults to the target's promotesFrom.
	// +optional
	From string `json:"from,omitempty"`
	// Revision is the source commit to promote; defaults to the source
	// environment's head. With From set to the target itself, this is a rollback.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Images limits an Images promotion to these image names.
	// +optional
	// +listType=set
	Images []string `json:"images,omitempty"`
	// Message is added to the commit message.
	// +optional
	Message string `json:"message,omitempty"`
}

// PromotionStatus is read back from the promotion's commit.
type PromotionStatus struct {
	// Phase is Succeeded, Proposed or Superseded.
	// +optional
	Phase PromotionPhase `json:"phase,omitempty"`
	// Commit carries the promotion.
	// +optional
	Commit string `json:"commit,omitempty"`
	// Branch holds Commit: the environment branch, or the review branch
	// while the promotion is Proposed.
	// +optional
	Branch string `json:"branch,omitempty"`
	// SourceRevision is the source commit the promotion copied from.
	// +optional
	SourceRevision string `json:"sourceRevision,omitempty"`
	// Changes lists what the promotion changed.
	// +optional
	// +listType=atomic
	Changes []Change `json:"changes,omitempty"`
	// PromotedBy is the Kubernetes user who created the promotion.
	// +optional
	PromotedBy string `json:"promotedBy,omitempty"`
	// Time is when the promotion commit was made.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
	// AppliedAt is when the target environment's Flux Kustomization first
	// applied a revision that contains Commit, as Flux's status.history
	// records it. Derived when the Promotion is read, never stored in Git.
	// +optional
	AppliedAt *metav1.Time `json:"appliedAt,omitempty"`
	// ApprovalsRequired is how many approvals the promotion needs, as its
	// environment said when it was proposed; 0 when it needs none.
	// +optional
	ApprovalsRequired int32 `json:"approvalsRequired,omitempty"`
	// Approvals are the approvals of the current plan that count: one per
	// user, never the author's, each recorded by gitgate as a commit on the
	// review branch.
	// +optional
	// +listType=map
	// +listMapKey=by
	Approvals []ApprovalRecord `json:"approvals,omitempty"`
	// Rejections are the rejections recorded; one makes the promotion Rejected.
	// +optional
	// +listType=map
	// +listMapKey=by
	Rejections []ApprovalRecord `json:"rejections,omitempty"`
	// Conditions: Succeeded, read from Git; Applied and Healthy, derived
	// from the target environment's Flux Kustomization when the Promotion
	// is read (reasons Applied, Healthy, Progressing, Failed, NoKustomization).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PromotionList is a list of Promotions.
type PromotionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Promotion `json:"items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EnvironmentHistory lists the commits that changed an environment, newest
// first: the environments/<name>/history subresource.
type EnvironmentHistory struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Entries are the commits, newest first.
	// +optional
	// +listType=atomic
	Entries []HistoryEntry `json:"entries,omitempty"`
}

// HistoryEntry is one commit that changed an environment's path.
type HistoryEntry struct {
	// Commit is the commit SHA.
	Commit string `json:"commit"`
	// Time is the commit's author time.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
	// Author is the commit's author (for promotions: gitgate).
	// +optional
	Author string `json:"author,omitempty"`
	// Subject is the first line of the commit message.
	// +optional
	Subject string `json:"subject,omitempty"`
	// Promotion names the promotion the commit carries, if any.
	// +optional
	Promotion string `json:"promotion,omitempty"`
	// PromotedBy is the promotion's Kubernetes user, if any.
	// +optional
	PromotedBy string `json:"promotedBy,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// SealedSecretRequest commits one Bitnami SealedSecret, sealed on the client,
// into an environment's path: the body of the
// environments/<name>/sealedsecrets subresource.
type SealedSecretRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SealedSecretRequestSpec `json:"spec"`
	// +optional
	Status SealedSecretRequestStatus `json:"status,omitempty"`
}

// SealedSecretRequestSpec is the SealedSecret and how to commit it.
type SealedSecretRequestSpec struct {
	// SealedSecret is a bitnami.com/v1alpha1 SealedSecret whose namespace is
	// the environment's namespace.
	SealedSecret runtime.RawExtension `json:"sealedSecret"`
	// Overwrite replaces a SealedSecret of the same name in the environment.
	// +optional
	Overwrite bool `json:"overwrite,omitempty"`
	// Message is added to the commit message.
	// +optional
	Message string `json:"message,omitempty"`
}

// SealedSecretRequestStatus says where the SealedSecret was committed.
type SealedSecretRequestStatus struct {
	// Branch is the branch the commit went to.
	// +optional
	Branch string `json:"branch,omitempty"`
	// Path is the file that holds the SealedSecret.
	// +optional
	Path string `json:"path,omitempty"`
	// Commit is the commit SHA; empty for a dry run.
	// +optional
	Commit string `json:"commit,omitempty"`
	// Replaced is true when an earlier SealedSecret of the name was replaced.
	// +optional
	Replaced bool `json:"replaced,omitempty"`
}
