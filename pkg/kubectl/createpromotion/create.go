// Package createpromotion is `kubectl create promotion`: a kubectl plugin
// (kubectl-create-promotion) that creates a gitgate Promotion with
// kubectl's own flags, output and error style.
package createpromotion

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned/scheme"
	"github.com/gitgate-dev/gitgate/pkg/kubectl/plugin"
)

var (
	long = templates.LongDesc(`
		Create a promotion: a Git commit that moves the image versions (or the
		branch) of one environment into the next.

		The promotion is planned, committed and pushed before the command
		returns. Promoting into an environment needs the "promote" verb on that
		environment. Without NAME, a name is generated from the target.

		kubectl finds this plugin only when "create promotion" comes before any
		flag: write "kubectl create promotion --to prod --context bob", not
		"kubectl --context bob create promotion --to prod".`)

	examples = templates.Examples(`
		# Promote test into prod (prod's promotesFrom), with a generated name
		kubectl create promotion --to prod

		# Promote only the app image from test into prod, with a message
		kubectl create promotion release-1-2-3 --to prod --from test --image app -m "release 1.2.3"

		# Show what a promotion would change, without writing anything
		kubectl create promotion --to prod --dry-run=server -o yaml

		# Create it and show it as kubectl get -o wide does
		kubectl create promotion --to test -o wide

		# Roll prod back to an earlier revision of itself
		kubectl create promotion --to prod --from prod --revision 3f2a1b7

		# Promote, then wait (at most 10 minutes) until Flux applied it; exits
		# non-zero with Flux's message if the Kustomization fails
		kubectl create promotion --to prod --wait=10m

		# Wait until Flux's health checks passed too
		kubectl create promotion --to prod --wait --wait-for=healthy

		# Promote into a frozen environment (needs the "breakglass" verb on it);
		# the reason is recorded in the commit
		kubectl create promotion --to prod --override-freeze="hotfix for incident 42"`)
)

// Options are the command's flags and what Complete derives from them.
type Options struct {
	PrintFlags  *genericclioptions.PrintFlags
	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Name, To, From, Revision, Message string
	Images                            []string
	// OverrideFreeze, when set, passes a freeze of the target with this
	// reason (the verb breakglass on it is needed).
	OverrideFreeze string
	// Wait, when its timeout is set, waits for Flux to apply the promotion.
	Wait plugin.WaitOptions

	dryRun    cmdutil.DryRunStrategy
	namespace string
	client    versioned.Interface
	print     func(*v1alpha1.Promotion) error
	wide      bool
}

// NewPluginCommand returns `kubectl create promotion` as the plugin binary
// runs it: kubectl passes the arguments after "create promotion", and the
// command reports itself (help, usage errors) as "kubectl create promotion".
func NewPluginCommand(streams genericiooptions.IOStreams, args []string) *cobra.Command {
	root := &cobra.Command{Use: "kubectl", SilenceUsage: true, SilenceErrors: true}
	create := &cobra.Command{Use: "create", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(create)
	create.AddCommand(NewCommand(streams))
	root.SetArgs(plugin.Args([]string{"create", "promotion"}, args))
	return root
}

// NewCommand returns the promotion subcommand of `kubectl create`.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{
		PrintFlags:  genericclioptions.NewPrintFlags("created").WithTypeSetter(scheme.Scheme),
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		IOStreams:   streams,
	}
	cmd := &cobra.Command{
		Use:                   "promotion [NAME] --to ENV [--from ENV] [--image NAME]... [--revision SHA] [-m MSG] [--dry-run=server|client|none]",
		DisableFlagsInUseLine: true,
		Short:                 "Create a promotion: a Git commit that promotes one environment into the next",
		Long:                  long,
		Example:               examples,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate(cmd))
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return cmdutil.UsageErrorf(c, "%v", err) })
	o.ConfigFlags.AddFlags(cmd.Flags())
	plugin.AddVerbosityFlags(cmd.Flags())
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage += " Also wide: the server's table, as kubectl get -o wide shows it."
	cmdutil.AddDryRunFlag(cmd)
	cmd.Flags().StringVar(&o.To, "to", "", "Environment to promote into (required).")
	cmd.Flags().StringVar(&o.From, "from", "", "Environment to promote from; default: the target's promotesFrom.")
	cmd.Flags().StringArrayVar(&o.Images, "image", nil, "Promote only this image (repeatable); default: every image.")
	cmd.Flags().StringVar(&o.Revision, "revision", "", "Source commit to promote; default: the source environment's head.")
	cmd.Flags().StringVarP(&o.Message, "message", "m", "", "Message added to the commit.")
	plugin.AddOverrideFreezeFlag(cmd.Flags(), &o.OverrideFreeze)
	o.Wait.AddFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("to", plugin.CompleteEnvironments(o.ConfigFlags, false))
	_ = cmd.RegisterFlagCompletionFunc("from", plugin.CompleteEnvironments(o.ConfigFlags, false))
	return cmd
}

// Complete reads arguments, the namespace and the client configuration.
func (o *Options) Complete(cmd *cobra.Command, args []string) error {
	switch len(args) {
	case 0:
	case 1:
		o.Name = args[0]
	default:
		return cmdutil.UsageErrorf(cmd, "at most one NAME may be given, got %d arguments", len(args))
	}
	var err error
	if o.dryRun, err = cmdutil.GetDryRunStrategy(cmd); err != nil {
		return err
	}
	if o.namespace, _, err = o.ConfigFlags.ToRawKubeConfigLoader().Namespace(); err != nil {
		return err
	}
	cmdutil.PrintFlagsWithDryRunStrategy(o.PrintFlags, o.dryRun)
	if o.wide = *o.PrintFlags.OutputFormat == "wide"; o.wide {
		if o.dryRun != cmdutil.DryRunNone {
			return cmdutil.UsageErrorf(cmd, "-o wide shows the promotion as the server lists it; with --dry-run use -o yaml")
		}
		*o.PrintFlags.OutputFormat = "name"
	}
	printer, err := o.PrintFlags.ToPrinter()
	if err != nil {
		return err
	}
	o.print = func(p *v1alpha1.Promotion) error { return printer.PrintObj(p, o.Out) }
	if o.dryRun == cmdutil.DryRunClient {
		return nil // nothing to ask the server
	}
	config, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return err
	}
	o.client, err = versioned.NewForConfig(config)
	return err
}

// Validate checks the flags.
func (o *Options) Validate(cmd *cobra.Command) error {
	if o.To == "" {
		return cmdutil.UsageErrorf(cmd, "--to is required: the environment to promote into")
	}
	if err := o.Wait.Validate(); err != nil {
		return cmdutil.UsageErrorf(cmd, "%v", err)
	}
	if o.Wait.Timeout > 0 && o.dryRun != cmdutil.DryRunNone {
		return cmdutil.UsageErrorf(cmd, "--wait waits for Flux to apply a promotion; a dry run makes none")
	}
	return nil
}

// Promotion is the object the flags describe.
func (o *Options) Promotion() *v1alpha1.Promotion {
	p := &v1alpha1.Promotion{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Promotion"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.namespace},
		Spec: v1alpha1.PromotionSpec{
			Environment: o.To, From: o.From, Revision: o.Revision, Images: o.Images, Message: o.Message,
		},
	}
	if p.Name == "" {
		p.GenerateName = o.To + "-"
	}
	plugin.SetOverrideFreeze(&p.ObjectMeta, o.OverrideFreeze)
	return p
}

// Run creates the promotion (or, for a client dry run, only prints it).
func (o *Options) Run(ctx context.Context) error {
	p := o.Promotion()
	if o.dryRun == cmdutil.DryRunClient {
		return o.print(p)
	}
	opts := metav1.CreateOptions{}
	if o.dryRun == cmdutil.DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	created, err := plugin.CreatePromotion(ctx, o.client, o.namespace, p, opts)
	if err != nil {
		return err
	}
	if o.wide {
		err = o.printWide(ctx, created.Name)
	} else {
		created.SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("Promotion"))
		err = o.print(created)
	}
	if err != nil || o.Wait.Timeout == 0 {
		return err
	}
	met, err := o.Wait.Wait(ctx, o.client, o.namespace, created.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "promotion %s: %s: %s\n", created.Name, met.Type, met.Message)
	return nil
}

// printWide prints the promotion as `kubectl get promotion -o wide` does,
// with the server's own table columns.
func (o *Options) printWide(ctx context.Context, name string) error {
	raw, err := o.client.GitgateV1alpha1().RESTClient().Get().Namespace(o.namespace).Resource("promotions").Name(name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(ctx).Raw()
	if err != nil {
		return err
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(raw, table); err != nil {
		return fmt.Errorf("reading the server's table: %w", err)
	}
	return printers.NewTablePrinter(printers.PrintOptions{Wide: true}).PrintObj(table, o.Out)
}
