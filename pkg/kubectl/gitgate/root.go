// Package gitgate is the kubectl-gitgate plugin: `kubectl gitgate history`,
// `diff` and `rollback` for gitgate environments.
package gitgate

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
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
		Short:         "Work with gitgate environments: history, diff, rollback",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	c.configFlags.AddFlags(cmd.PersistentFlags())
	for _, sub := range []*cobra.Command{newHistory(c), newDiff(c), newRollback(c)} {
		sub.SetFlagErrorFunc(func(cc *cobra.Command, err error) error { return cmdutil.UsageErrorf(cc, "%v", err) })
		sub.ValidArgsFunction = completeEnvironments(c)
		cmd.AddCommand(sub)
	}
	cmd.SetFlagErrorFunc(func(cc *cobra.Command, err error) error { return cmdutil.UsageErrorf(cc, "%v", err) })
	root.AddCommand(cmd)
	root.SetArgs(pluginArgs([]string{"gitgate"}, args))
	return root
}

// pluginArgs puts the words kubectl consumed back in front of the plugin's
// arguments; shell completion (kubectl calls "__complete ...") stays first.
func pluginArgs(words, args []string) []string {
	if len(args) > 0 && strings.HasPrefix(args[0], "__complete") {
		return append(append([]string{args[0]}, words...), args[1:]...)
	}
	return append(words, args...)
}

// oneEnvironment checks that exactly one ENV argument was given.
func oneEnvironment(cmd *cobra.Command, args []string) (string, error) {
	if len(args) != 1 {
		return "", cmdutil.UsageErrorf(cmd, "exactly one ENV is required, got %d arguments", len(args))
	}
	return args[0], nil
}

// completeEnvironments offers the namespace's environment names.
func completeEnvironments(c *common) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 || c.complete() != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := c.client.GitgateV1alpha1().Environments(c.namespace).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, e := range list.Items {
			names = append(names, e.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
