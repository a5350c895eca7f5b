package gitgate

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// newFreeze returns `kubectl gitgate freeze` (on) or `unfreeze` (off).
func newFreeze(c *common, on bool) *cobra.Command {
	var reason string
	var dryRun bool
	use, short := "unfreeze ENV", "Switch an environment's freeze off (its windows stay)"
	long := templates.LongDesc(`
		Switch an environment's freeze off: a commit of its definition. Its
		freeze windows stay; while one is open the environment is still frozen.
		It needs the "freeze" verb on ENV (and create on environments/freeze).`)
	example := templates.Examples(`
		kubectl gitgate unfreeze prod`)
	if on {
		use, short = "freeze ENV --reason WHY", "Freeze an environment: promotions, rollbacks and seals are refused"
		long = templates.LongDesc(`
			Freeze an environment until it is unfrozen: a commit of its definition
			with the reason. Promotions, rollbacks and seals into it are refused
			with the reason; holders of the "breakglass" verb may pass with
			--override-freeze. It needs the "freeze" verb on ENV (and create on
			environments/freeze).`)
		example = templates.Examples(`
			kubectl gitgate freeze prod --reason "incident 42: hold releases"`)
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Run: func(cmd *cobra.Command, args []string) {
			env, err := oneEnvironment(cmd, args)
			cmdutil.CheckErr(err)
			if on && reason == "" {
				cmdutil.CheckErr(cmdutil.UsageErrorf(cmd, "--reason is required: say why the environment is frozen"))
			}
			cmdutil.CheckErr(c.complete())
			req := &v1alpha1.EnvironmentFreeze{Spec: v1alpha1.EnvironmentFreezeSpec{Frozen: on, Reason: reason}}
			opts := metav1.CreateOptions{}
			if dryRun {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			res, err := c.client.GitgateV1alpha1().Environments(c.namespace).CreateFreeze(cmd.Context(), env, req, opts)
			cmdutil.CheckErr(err)
			fmt.Fprintln(c.Out, describeFreezeResult(env, on, res))
		},
	}
	if on {
		cmd.Flags().StringVar(&reason, "reason", "", "Why the environment is frozen (required); shown in every refusal.")
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "Check everything on the server, commit nothing.")
	return cmd
}

// describeFreezeResult is the line the command prints.
func describeFreezeResult(env string, on bool, res *v1alpha1.EnvironmentFreeze) string {
	verb := "unfrozen"
	if on {
		verb = "frozen"
	}
	out := fmt.Sprintf("environment.gitgate.dev/%s %s", env, verb)
	switch {
	case res.Status.Commit != "":
		out += " (commit " + res.Status.Commit[:min(7, len(res.Status.Commit))] + ")"
	default:
		out += " (unchanged)"
	}
	st := res.Status.Freeze
	if !on && st.Frozen {
		out += "; still frozen: " + st.Reason
	}
	if st.NextWindow != nil {
		out += fmt.Sprintf("; next window %s from %s to %s", st.NextWindow.Window,
			st.NextWindow.Start.Format(time.RFC3339), st.NextWindow.End.Format(time.RFC3339))
	}
	return out
}
