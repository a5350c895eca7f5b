package gitgate

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

func newDiff(c *common) *cobra.Command {
	var from, revision string
	var images []string
	cmd := &cobra.Command{
		Use:   "diff ENV [--from ENV] [--image NAME]... [--revision SHA]",
		Short: "Show what a promotion into an environment would change",
		Long: templates.LongDesc(`
			Show what promoting into ENV would change, as a diff of the
			environment's overlay. It asks the server for a dry run: nothing is
			written. As with kubectl diff, the exit code is 0 when nothing would
			change, 1 when something would, and above 1 on errors.`),
		Example: templates.Examples(`
			kubectl gitgate diff prod
			kubectl gitgate diff prod --from test --image app`),
		Run: func(cmd *cobra.Command, args []string) {
			env, err := oneEnvironment(cmd, args)
			cmdutil.CheckErr(err)
			cmdutil.CheckErr(c.complete())
			target, err := c.client.GitgateV1alpha1().Environments(c.namespace).Get(cmd.Context(), env, metav1.GetOptions{})
			cmdutil.CheckErr(err)
			p := &v1alpha1.Promotion{
				ObjectMeta: metav1.ObjectMeta{GenerateName: env + "-diff-"},
				Spec:       v1alpha1.PromotionSpec{Environment: env, From: from, Revision: revision, Images: images},
			}
			planned, err := c.client.GitgateV1alpha1().Promotions(c.namespace).Create(cmd.Context(), p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if apierrors.IsInvalid(err) && strings.Contains(err.Error(), "nothing to promote") {
				fmt.Fprintf(c.Out, "No changes: %s\n", err.(apierrors.APIStatus).Status().Details.Causes[0].Message)
				return
			}
			cmdutil.CheckErr(err)
			fmt.Fprint(c.Out, renderDiff(target, planned))
			os.Exit(1)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "Environment to promote from; default: ENV's promotesFrom.")
	cmd.Flags().StringArrayVar(&images, "image", nil, "Only this image (repeatable).")
	cmd.Flags().StringVar(&revision, "revision", "", "Source commit; default: the source environment's head.")
	return cmd
}

// renderDiff shows a planned promotion as a diff of the target overlay.
func renderDiff(target *v1alpha1.Environment, p *v1alpha1.Promotion) string {
	var b strings.Builder
	file := strings.TrimSuffix(target.Spec.Path, "/") + "/kustomization.yaml"
	fmt.Fprintf(&b, "--- %s (%s, branch %s at %s)\n", file, target.Name, target.Spec.Branch, short(target.Status.Revision))
	fmt.Fprintf(&b, "+++ %s (after promoting %s@%s into %s)\n", file, p.Spec.From, short(p.Status.SourceRevision), target.Name)
	if target.Spec.Strategy == v1alpha1.StrategyMerge {
		for _, ch := range p.Status.Changes {
			fmt.Fprintf(&b, "-branch %s: %s\n+branch %s: %s\n", ch.Name, ch.From, ch.Name, ch.To)
		}
		return b.String()
	}
	b.WriteString(" images:\n")
	for _, ch := range p.Status.Changes {
		if ch.From != "" {
			fmt.Fprintf(&b, "-  %s: %s\n", ch.Name, ch.From)
		}
		fmt.Fprintf(&b, "+  %s: %s\n", ch.Name, ch.To)
	}
	if p.Status.Branch != "" && p.Status.Branch != target.Spec.Branch {
		fmt.Fprintf(&b, "(the commit would wait for review on branch %s)\n", p.Status.Branch)
	}
	return b.String()
}
