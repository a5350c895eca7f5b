// Package plugin holds what gitgate's kubectl plugins share: how kubectl
// hands them their arguments, and completion of environment names.
package plugin

import (
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
)

// Args puts back the command words kubectl consumed to find the plugin
// ("create promotion", "gitgate") in front of its arguments, so that the
// plugin's commands report themselves as kubectl's. Shell completion
// (kubectl calls the plugin with "__complete ...") stays first.
func Args(words, args []string) []string {
	if len(args) > 0 && strings.HasPrefix(args[0], "__complete") {
		return append(append([]string{args[0]}, words...), args[1:]...)
	}
	return append(append([]string(nil), words...), args...)
}

// CompleteEnvironments offers the environment names of the namespace the
// flags select; it completes nothing once an argument is given when
// firstArgOnly is set.
func CompleteEnvironments(flags *genericclioptions.ConfigFlags, firstArgOnly bool) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if firstArgOnly && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		config, err := flags.ToRESTConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		client, err := versioned.NewForConfig(config)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := client.GitgateV1alpha1().Environments(ns).List(cmd.Context(), metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, 0, len(list.Items))
		for _, e := range list.Items {
			names = append(names, e.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
