package gitgate

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// newApprove returns `kubectl gitgate approve` or, for
// v1alpha1.ApprovalReject, `kubectl gitgate reject`.
func newApprove(c *common, decision v1alpha1.ApprovalDecision) *cobra.Command {
	var message string
	use, short, long := "approve", "Approve a proposed promotion",
		`Approve a Proposed promotion into an environment that requires
		approvals. gitgate records the approval as a commit on the promotion's
		review branch; the approval that completes the quorum lands the
		promotion on the environment branch. It needs the "approve" verb on
		the promotion's target environment, and the author of a promotion
		cannot approve it. Approving again is harmless.`
	if decision == v1alpha1.ApprovalReject {
		use, short, long = "reject", "Reject a proposed promotion",
			`Reject a Proposed promotion into an environment that requires
			approvals: gitgate records the rejection as a commit on the
			promotion's review branch and the promotion becomes Rejected; it
			never lands through gitgate. It needs the "approve" verb on the
			promotion's target environment.`
	}
	cmd := &cobra.Command{
		Use:   use + " PROMOTION [-m WHY]",
		Short: short,
		Long:  templates.LongDesc(long),
		Example: templates.Examples(fmt.Sprintf(`
			kubectl gitgate %s prod-42
			kubectl gitgate %s prod-42 -m "checked the release notes"`, use, use)),
		Run: func(cmd *cobra.Command, args []string) {
			if len(args) != 1 {
				cmdutil.CheckErr(cmdutil.UsageErrorf(cmd, "exactly one PROMOTION is required, got %d arguments", len(args)))
			}
			cmdutil.CheckErr(c.complete())
			a := &v1alpha1.Approval{
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec:       v1alpha1.ApprovalSpec{Decision: decision, Message: message},
			}
			out, err := c.client.GitgateV1alpha1().Promotions(c.namespace).CreateApproval(cmd.Context(), args[0], a, metav1.CreateOptions{})
			cmdutil.CheckErr(err)
			fmt.Fprintf(c.Out, "promotion.gitgate.dev/%s %s: %s (%d/%d approvals, %s)\n",
				args[0], pastTense(decision), out.Status.Message, out.Status.Approvals, out.Status.Required, out.Status.Phase)
		},
	}
	cmd.Flags().StringVarP(&message, "message", "m", "", "Why: added to the commit that records the decision.")
	return cmd
}

func pastTense(d v1alpha1.ApprovalDecision) string {
	if d == v1alpha1.ApprovalReject {
		return "rejected"
	}
	return "approved"
}
