package server

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

// NewCommand returns the gitgate-apiserver command.
func NewCommand(ctx context.Context, out, errOut io.Writer) *cobra.Command {
	o := NewOptions(out, errOut)
	cmd := &cobra.Command{
		Use:   "gitgate-apiserver",
		Short: "Serve gitgate.dev Environments and Promotions, stored in Git, as an aggregated Kubernetes API",
		Long: `gitgate-apiserver serves the gitgate.dev/v1alpha1 API behind an APIService.
Environments and Promotions live only in the Git repositories that --config
binds to namespaces: creating a Promotion makes a commit.`,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	return cmd
}
