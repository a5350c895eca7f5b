package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// MaxApprovalsRequired bounds spec.approvals.required: a quorum larger than
// any team is a typo that would block the environment for good.
const MaxApprovalsRequired = 100

// ValidateApprovalPolicy checks spec.approvals: when set, required is
// between 1 and MaxApprovalsRequired.
func ValidateApprovalPolicy(p *gitgate.ApprovalPolicy, fld *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	if p.Required < 1 || p.Required > MaxApprovalsRequired {
		return field.ErrorList{field.Invalid(fld.Child("required"), p.Required, fmt.Sprintf(
			"must be between 1 and %d: the number of distinct users, other than a promotion's author, who must approve it (remove spec.approvals to require none)",
			MaxApprovalsRequired))}
	}
	return nil
}

// ApprovalsWeakened reports whether changing an approval policy from
// oldPolicy to newPolicy lowers it: removed, or fewer approvals required.
func ApprovalsWeakened(newPolicy, oldPolicy *gitgate.ApprovalPolicy) bool {
	if oldPolicy == nil {
		return false
	}
	return newPolicy == nil || newPolicy.Required < oldPolicy.Required
}
