package server

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/gitgate-dev/gitgate/pkg/admission"
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
	cmd.AddCommand(newRenderPolicyCommand(out), newRenderWebhookCommand(out))
	return cmd
}

// newRenderPolicyCommand prints the admission policy as a
// ValidatingAdmissionPolicy and binding, for clusters that prefer
// in-process CEL to a webhook.
func newRenderPolicyCommand(out io.Writer) *cobra.Command {
	a := newAdmissionOptions()
	render := admission.RenderOptions{ExcludedNamespaces: defaultExcludedNamespaces}
	var failurePolicy string
	cmd := &cobra.Command{
		Use:   "render-policy",
		Short: "Print the admission policy as a ValidatingAdmissionPolicy and its binding (YAML)",
		Long: `render-policy prints gitgate's admission rules as a ValidatingAdmissionPolicy
evaluated by kube-apiserver itself (CEL), with nothing to keep alive. It takes
the same --admission-* flags as the server. What CEL cannot do is left out and
said in every refusal: break-glass (a SubjectAccessReview) and naming the
gitgate Environment that holds the object.`,
		SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error {
			render.FailurePolicy = admissionregistrationv1.FailurePolicyType(failurePolicy)
			yaml, err := admission.RenderPolicy(a.policy(), render)
			if err != nil {
				return err
			}
			_, err = out.Write(yaml)
			return err
		},
	}
	a.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&render.Name, "name", "gitgate", "Name of the policy and its binding.")
	cmd.Flags().StringSliceVar(&render.ExcludedNamespaces, "excluded-namespaces", render.ExcludedNamespaces, "Namespaces the policy never checks.")
	cmd.Flags().StringVar(&failurePolicy, "failure-policy", "Fail", "Fail or Ignore, when the policy cannot be evaluated.")
	return cmd
}

// newRenderWebhookCommand prints the ValidatingWebhookConfiguration that
// registers the webhook: the entries whose filters let kube-apiserver call
// gitgate only when the answer can be "no".
func newRenderWebhookCommand(out io.Writer) *cobra.Command {
	a := newAdmissionOptions()
	render := admission.WebhookOptions{ExcludedNamespaces: defaultExcludedNamespaces, TimeoutSeconds: admission.DefaultTimeoutSeconds}
	var failurePolicy, url, caBundleFile string
	cmd := &cobra.Command{
		Use:   "render-webhook",
		Short: "Print the ValidatingWebhookConfiguration of the admission webhook (YAML)",
		Long: `render-webhook prints the ValidatingWebhookConfiguration that registers
gitgate's webhook. Its entries, rules, selectors and matchConditions make
kube-apiserver call gitgate only for a person's change of a managed object,
of an object a managed one controls, or of an object in an enforced
namespace: while gitgate is down, nothing else waits for it. It takes the same
--admission-* flags as the server. Without --url the client configuration is
left empty (the chart fills it in).`,
		SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error {
			render.FailurePolicy = admissionregistrationv1.FailurePolicyType(failurePolicy)
			if url != "" {
				render.ClientConfig.URL = &url
			}
			if caBundleFile != "" {
				ca, err := os.ReadFile(caBundleFile)
				if err != nil {
					return fmt.Errorf("reading --ca-bundle-file: %w", err)
				}
				render.ClientConfig.CABundle = ca
			}
			yaml, err := admission.RenderWebhook(a.policy(), render)
			if err != nil {
				return err
			}
			_, err = out.Write(yaml)
			return err
		},
	}
	a.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&render.Name, "name", "gitgate", "Name of the ValidatingWebhookConfiguration.")
	cmd.Flags().StringSliceVar(&render.ExcludedNamespaces, "excluded-namespaces", render.ExcludedNamespaces, "Namespaces the webhook never checks.")
	cmd.Flags().StringVar(&failurePolicy, "failure-policy", "Fail", "Fail or Ignore, when gitgate cannot be reached.")
	cmd.Flags().Int32Var(&render.TimeoutSeconds, "timeout-seconds", render.TimeoutSeconds, "How long kube-apiserver waits for each call (1-30).")
	cmd.Flags().StringVar(&url, "url", "", "URL of the webhook (https://host:port/validate); empty leaves clientConfig to fill in.")
	cmd.Flags().StringVar(&caBundleFile, "ca-bundle-file", "", "PEM file of the CA that signed the webhook's serving certificate.")
	return cmd
}

// defaultExcludedNamespaces are never checked: Kubernetes' own, Flux's and gitgate's.
var defaultExcludedNamespaces = []string{"kube-system", "kube-public", "kube-node-lease", "flux-system", "gitgate-system"}
