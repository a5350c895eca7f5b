package gitgate

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// PromotionRejected means a user with the verb approve on the target
// environment rejected the proposed promotion: it never lands through
// gitgate. Create a new promotion to try again.
const PromotionRejected PromotionPhase = "Rejected"

// ConditionApproved says where a promotion into an environment with
// approvals stands (positive polarity): True once the quorum is met, False
// when rejected, Unknown while approvals are awaited.
const ConditionApproved = "Approved"

// Reasons of the Approved condition.
const (
	ReasonAwaitingApprovals = "AwaitingApprovals"
	ReasonQuorumMet         = "QuorumMet"
	ReasonRejected          = "Rejected"
	ReasonReplanned         = "Replanned"
	ReasonUnverified        = "Unverified"
)

// ApprovalPolicy says how many people must approve a promotion.
type ApprovalPolicy struct {
	// Required is how many distinct users, other than the promotion's
	// author, must approve before gitgate lands it.
	Required int32
}

// ApprovalRecord is one person's decision on a promotion, read from Git.
type ApprovalRecord struct {
	// By is the Kubernetes user.
	By string
	// Time is when the decision was committed.
	Time *metav1.Time
	// Message is the reason given, if any.
	Message string
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
// promotions/<name>/approval subresource.
type Approval struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   ApprovalSpec
	Status ApprovalStatus
}

// ApprovalSpec is the decision.
type ApprovalSpec struct {
	// Decision is approve or reject.
	Decision ApprovalDecision
	// Message says why; it is added to the commit message.
	Message string
}

// ApprovalStatus says what the decision did.
type ApprovalStatus struct {
	// Commit records the decision on the review branch; empty when it was
	// a repetition of the user's earlier decision (nothing written) or a
	// dry run.
	Commit string
	// Phase is the promotion's phase afterwards.
	Phase PromotionPhase
	// Approvals counts the approvals of the current plan.
	Approvals int32
	// Required is how many approvals the promotion needs.
	Required int32
	// LandedCommit is the commit that landed the promotion on the
	// environment branch, when this decision completed the quorum.
	LandedCommit string
	// Message says what happened, for people.
	Message string
}
