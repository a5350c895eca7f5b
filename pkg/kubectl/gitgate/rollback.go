package gitgate

import (
	"fmt"
	"regexp"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/kubectl/plugin"
)

var shaLike = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

func newRollback(c *common) *cobra.Command {
	var to, message, overrideFreeze string
	var wait plugin.WaitOptions
	cmd := &cobra.Command{
		Use:   "rollback ENV --to REVISION|PROMOTION [-m MSG]",
		Short: "Promote an environment from its own earlier state",
		Long: templates.LongDesc(`
			Roll an environment back: a promotion from the environment itself at
			an earlier commit. --to takes a commit SHA (see kubectl gitgate
			history) or the name of a promotion, meaning the state right after
			that promotion. It needs the "promote" verb on ENV.`),
		Example: templates.Examples(`
			kubectl gitgate rollback prod --to 3f2a1b7
			kubectl gitgate rollback prod --to prod-41 -m "bad release"
			kubectl gitgate rollback prod --to prod-41 --wait=5m`),
		Run: func(cmd *cobra.Command, args []string) {
			env, err := oneEnvironment(cmd, args)
			cmdutil.CheckErr(err)
			if to == "" {
				cmdutil.CheckErr(cmdutil.UsageErrorf(cmd, "--to is required: a commit SHA or a promotion name"))
			}
			if err := wait.Validate(); err != nil {
				cmdutil.CheckErr(cmdutil.UsageErrorf(cmd, "%v", err))
			}
			cmdutil.CheckErr(c.complete())
			revision := to
			if p, err := c.client.GitgateV1alpha1().Promotions(c.namespace).Get(cmd.Context(), to, metav1.GetOptions{}); err == nil {
				if p.Spec.Environment != env {
					cmdutil.CheckErr(fmt.Errorf("promotion %s promoted into %s, not %s", to, p.Spec.Environment, env))
				}
				revision = p.Status.Commit
			} else if !apierrors.IsNotFound(err) || !shaLike.MatchString(to) {
				cmdutil.CheckErr(fmt.Errorf("--to %q is neither a promotion into %s nor a commit SHA: %w", to, env, err))
			}
			if message == "" {
				message = fmt.Sprintf("Roll %s back to %s", env, to)
			}
			p := &v1alpha1.Promotion{
				ObjectMeta: metav1.ObjectMeta{GenerateName: env + "-rollback-"},
				Spec:       v1alpha1.PromotionSpec{Environment: env, From: env, Revision: revision, Message: message},
			}
			plugin.SetOverrideFreeze(&p.ObjectMeta, overrideFreeze)
			created, err := plugin.CreatePromotion(cmd.Context(), c.client, c.namespace, p, metav1.CreateOptions{})
			cmdutil.CheckErr(err)
			fmt.Fprintf(c.Out, "promotion.gitgate.dev/%s created\n", created.Name)
			if wait.Timeout > 0 {
				met, err := wait.Wait(cmd.Context(), c.client, c.namespace, created.Name)
				cmdutil.CheckErr(err)
				fmt.Fprintf(c.ErrOut, "promotion %s: %s: %s\n", created.Name, met.Type, met.Message)
			}
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "Commit SHA or promotion name to roll back to (required).")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Message added to the commit.")
	plugin.AddOverrideFreezeFlag(cmd.Flags(), &overrideFreeze)
	wait.AddFlags(cmd.Flags())
	return cmd
}
