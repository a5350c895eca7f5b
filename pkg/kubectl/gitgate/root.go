// Package gitgate is the kubectl-gitgate plugin: `kubectl gitgate history`,
// `diff`, `rollback` and `seal` for gitgate environments, `freeze` and
// `unfreeze` them, `approve` and `reject` for promotions, `audit` of who
// can get around gitgate, and `ui`, a local pipeline page.
package gitgate

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
	"github.com/gitgate-dev/gitgate/pkg/kubectl/plugin"
)

// common holds what every subcommand needs.
type common struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
	namespace string
	client    versioned.Interface
}

func (c *common) complete() error {
	var err error
	if c.namespace, _, err = c.configFlags.ToRawKubeConfigLoader().Namespace(); err != nil {
		return err
	}
	config, err := c.configFlags.ToRESTConfig()
	if err != nil {
		return err
	}
	c.client, err = versioned.NewForConfig(config)
	return err
}

// NewPluginCommand returns `kubectl gitgate` with args as kubectl passes them.
func NewPluginCommand(streams genericiooptions.IOStreams, args []string) *cobra.Command {
	root := &cobra.Command{Use: "kubectl", SilenceUsage: true, SilenceErrors: true}
	c := &common{configFlags: genericclioptions.NewConfigFlags(true), IOStreams: streams}
	cmd := &cobra.Command{
		Use:           "gitgate",
		Short:         "Work with gitgate environments: history, diff, rollback, seal, freeze, unfreeze, approve, reject, audit, ui",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	c.configFlags.AddFlags(cmd.PersistentFlags())
	plugin.AddVerbosityFlags(cmd.PersistentFlags())
	for _, sub := range []*cobra.Command{newHistory(c), newDiff(c), newRollback(c), newSeal(c), newAudit(c), newFreeze(c, true), newFreeze(c, false), newUI(c),
		newApprove(c, v1alpha1.ApprovalApprove), newApprove(c, v1alpha1.ApprovalReject)} {
		sub.SetFlagErrorFunc(func(cc *cobra.Command, err error) error { return cmdutil.UsageErrorf(cc, "%v", err) })
		switch sub.Name() {
		case "seal", "audit", "ui", "approve", "reject": // seal's argument is a new Secret's name; audit and ui take none; approve a promotion
		default:
			sub.ValidArgsFunction = plugin.CompleteEnvironments(c.configFlags, true)
		}
		cmd.AddCommand(sub)
	}
	cmd.SetFlagErrorFunc(func(cc *cobra.Command, err error) error { return cmdutil.UsageErrorf(cc, "%v", err) })
	root.AddCommand(cmd)
	root.SetArgs(plugin.Args([]string{"gitgate"}, args))
	return root
}

// oneEnvironment checks that exactly one ENV argument was given.
func oneEnvironment(cmd *cobra.Command, args []string) (string, error) {
	if len(args) != 1 {
		return "", cmdutil.UsageErrorf(cmd, "exactly one ENV is required, got %d arguments", len(args))
	}
	return args[0], nil
}
