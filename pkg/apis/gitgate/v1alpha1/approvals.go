package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// PromotionRejected means a user with the verb approve on the target
// environment rejected the proposed promotion: it never lands through
// gitgate. Create a new promotion to try again.
const PromotionRejected PromotionPhase = "Rejected"

// ConditionApproved is set on promotions into an environment with
// approvals (positive polarity): True once the quorum is met, False when
// rejected or when the plan cannot be approved, Unknown while approvals
// are awaited (its message names how many more are needed, and who may
// not give them).
const ConditionApproved = gitgate.ConditionApproved

// Reasons of the Approved condition.
const (
	// ReasonAwaitingApprovals (Approved=Unknown): fewer approvals than required.
	ReasonAwaitingApprovals = gitgate.ReasonAwaitingApprovals
	// ReasonQuorumMet (Approved=True): enough users approved.
	ReasonQuorumMet = gitgate.ReasonQuorumMet
	// ReasonRejected (Approved=False): a user rejected the promotion.
	ReasonRejected = gitgate.ReasonRejected
	// ReasonReplanned (Approved=Unknown): the environment branch moved and
	// the promotion's changes differ on it; approvals of the earlier plan
	// no longer count.
	ReasonReplanned = gitgate.ReasonReplanned
	// ReasonUnverified (Approved=False): the promotion's commit was not
	// written by gitgate, so it cannot be approved.
	ReasonUnverified = gitgate.ReasonUnverified
)

// ApprovalPolicy says how many people must approve a promotion.
type ApprovalPolicy struct {
	// Required is how many distinct users, other than the promotion's
	// author, must approve (verb approve on the environment) before
	// gitgate lands it; 1 to 100. Lowering or removing it needs the verb
	// promote on the environment as well as update.
	Required int32 `json:"required"`
}

// ApprovalRecord is one person's decision on a promotion, read from Git.
type ApprovalRecord struct {
	// By is the Kubernetes user.
	By string `json:"by"`
	// Time is when the decision was committed.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
	// Message is the reason given, if any.
	// +optional
	Message string `json:"message,omitempty"`
}

// ApprovalDecision is approve or reject.
type ApprovalDecision string

const (
	// ApprovalApprove counts towards the quorum.
	ApprovalApprove ApprovalDecision = "approve"
	// ApprovalReject rejects the promotion.
	ApprovalReject ApprovalDecision = "reject"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Approval approves or rejects a proposed promotion: the body of the
// promotions/<name>/approval subresource. Creating it needs the verb
// approve on the target environment.
type Approval struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ApprovalSpec `json:"spec"`
	// +optional
	Status ApprovalStatus `json:"status,omitempty"`
}

// ApprovalSpec is the decision.
type ApprovalSpec struct {
	// Decision is approve or reject.
	Decision ApprovalDecision `json:"decision"`
	// Message says why; it is added to the commit message.
	// +optional
	Message string `json:"message,omitempty"`
}

// ApprovalStatus says what the decision did.
type ApprovalStatus struct {
	// Commit records the decision on the review branch; empty when it
	// repeated the user's earlier decision (nothing written) or for a dry run.
	// +optional
	Commit string `json:"commit,omitempty"`
	// Phase is the promotion's phase afterwards.
	// +optional
	Phase PromotionPhase `json:"phase,omitempty"`
	// Approvals counts the approvals of the current plan.
	// +optional
	Approvals int32 `json:"approvals,omitempty"`
	// Required is how many approvals the promotion needs.
	// +optional
	Required int32 `json:"required,omitempty"`
	// LandedCommit is the commit that landed the promotion on the
	// environment branch, when this decision completed the quorum.
	// +optional
	LandedCommit string `json:"landedCommit,omitempty"`
	// Message says what happened, for people.
	// +optional
	Message string `json:"message,omitempty"`
}
