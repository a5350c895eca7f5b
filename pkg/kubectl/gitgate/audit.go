package gitgate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/gitgate-dev/gitgate/pkg/rbacaudit"
)

// auditOptions are `kubectl gitgate audit`'s flags.
type auditOptions struct {
	*common
	allNamespaces bool
	opts          rbacaudit.Options
	output        string
	expectFile    string
	allow         []string
}

func newAudit(c *common) *cobra.Command {
	o := &auditOptions{common: c, opts: rbacaudit.Options{ApplierNamespaces: []string{"flux-system"}, GitgateNamespace: "gitgate-system"}}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List who can get around gitgate, freeze or approve in a namespace, from the live RBAC",
		Long: templates.LongDesc(`
			List the subjects whose RBAC lets them change what runs without an
			authorized Git commit: who may impersonate a trusted applier or get a
			token for it, run pods as it, edit environment definitions, break
			glass, write status, edit the namespace's labels or Flux's sources,
			read Git credentials, edit the admission configuration, or bind roles.
			Admission cannot tell an impersonated applier from the real one; this
			list is how to know who could. It also lists who holds gitgate's
			governance verbs: freeze (switching an environment's freeze off) and
			approve (approving promotions into an environment).

			With --expect or --allow, the command exits non-zero when a subject
			that no expectation covers appears, for CI. Kubernetes' own control
			plane (kube-system's service accounts, nodes, system:masters) is left
			out unless --include-system.`),
		Example: templates.Examples(`
			kubectl gitgate audit -n shop
			kubectl gitgate audit -n shop -o yaml
			kubectl gitgate audit -n shop --allow 'ServiceAccount:flux-system/*,Group:shop-release-managers'
			kubectl gitgate audit -A --expect expected-bypasses.yaml`),
		Run: func(cmd *cobra.Command, args []string) {
			if len(args) != 0 {
				cmdutil.CheckErr(cmdutil.UsageErrorf(cmd, "audit takes no arguments, got %q", args))
			}
			cmdutil.CheckErr(o.run(cmd.Context()))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "Audit every namespace, not only the current one.")
	f.StringSliceVar(&o.opts.ApplierNamespaces, "applier-namespaces", o.opts.ApplierNamespaces, "Namespaces whose service accounts gitgate trusts as GitOps appliers (its --admission-applier-namespaces).")
	f.StringSliceVar(&o.opts.TenantServiceAccounts, "tenant-service-accounts", nil, "Service accounts Flux impersonates, as namespace:name or *:name (gitgate's --admission-tenant-service-accounts).")
	f.StringSliceVar(&o.opts.AllowedUsers, "allowed-users", nil, "Further users gitgate trusts (its --admission-allowed-users).")
	f.StringSliceVar(&o.opts.AllowedGroups, "allowed-groups", nil, "Further groups gitgate trusts (its --admission-allowed-groups).")
	f.StringVar(&o.opts.GitgateNamespace, "gitgate-namespace", o.opts.GitgateNamespace, "Namespace of gitgate's repository credentials.")
	f.BoolVar(&o.opts.IncludeSystem, "include-system", false, "Also list Kubernetes' own control-plane identities.")
	f.StringVarP(&o.output, "output", "o", "", "Output format: json or yaml (default: a table).")
	f.StringVar(&o.expectFile, "expect", "", "YAML file listing the expected subjects ({kind, namespace, name, can}, names as globs); any other finding fails the command.")
	f.StringSliceVar(&o.allow, "allow", nil, "Expected subjects, as NAME, KIND:NAME or ServiceAccount:NAMESPACE/NAME (globs); any other finding fails the command.")
	return cmd
}

func (o *auditOptions) run(ctx context.Context) error {
	switch o.output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("--output %q: must be json or yaml, or empty for a table", o.output)
	}
	expected, err := o.expectations()
	if err != nil {
		return err
	}
	namespace, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	if !o.allNamespaces {
		o.opts.Namespaces = []string{namespace}
	}
	config, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	policy, err := readPolicy(ctx, client)
	if err != nil {
		return err
	}
	findings := rbacaudit.Audit(policy, o.opts)
	var unexpected []rbacaudit.Finding
	checking := o.expectFile != "" || len(o.allow) > 0
	if checking {
		unexpected = rbacaudit.Compare(findings, expected)
	}
	if err := printFindings(o.Out, o.output, findings, checking); err != nil {
		return err
	}
	if len(unexpected) > 0 {
		var names []string
		for _, f := range unexpected {
			names = append(names, fmt.Sprintf("%s %s (%s)", f.Subject.Kind, rbacaudit.SubjectString(f.Subject), f.Can))
		}
		return fmt.Errorf("%d unexpected ways around gitgate: %s; remove the grants, or add the subjects to the expectations", len(unexpected), strings.Join(names, ", "))
	}
	return nil
}

// expectations reads --expect and --allow.
func (o *auditOptions) expectations() ([]rbacaudit.Expectation, error) {
	var out []rbacaudit.Expectation
	if o.expectFile != "" {
		data, err := os.ReadFile(o.expectFile)
		if err != nil {
			return nil, fmt.Errorf("reading --expect: %w", err)
		}
		if err := yaml.UnmarshalStrict(data, &out); err != nil {
			return nil, fmt.Errorf("--expect %s must be a YAML list of {kind, namespace, name, can}: %w", o.expectFile, err)
		}
		for i, e := range out {
			if err := e.Validate(); err != nil {
				return nil, fmt.Errorf("--expect %s, entry %d: %w", o.expectFile, i+1, err)
			}
		}
	}
	for _, s := range o.allow {
		e, err := rbacaudit.ParseExpectation(s)
		if err != nil {
			return nil, fmt.Errorf("--allow: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// readPolicy lists the cluster's RBAC with the user's credentials.
func readPolicy(ctx context.Context, client kubernetes.Interface) (rbacaudit.Policy, error) {
	var p rbacaudit.Policy
	rbac := client.RbacV1()
	roles, err := rbac.Roles(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return p, fmt.Errorf("listing Roles (the audit needs to read RBAC in every namespace): %w", err)
	}
	clusterRoles, err := rbac.ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return p, fmt.Errorf("listing ClusterRoles: %w", err)
	}
	bindings, err := rbac.RoleBindings(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return p, fmt.Errorf("listing RoleBindings: %w", err)
	}
	clusterBindings, err := rbac.ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return p, fmt.Errorf("listing ClusterRoleBindings: %w", err)
	}
	p.Roles, p.ClusterRoles, p.RoleBindings, p.ClusterRoleBindings = roles.Items, clusterRoles.Items, bindings.Items, clusterBindings.Items
	return p, nil
}

func printFindings(out io.Writer, format string, findings []rbacaudit.Finding, checking bool) error {
	if findings == nil {
		findings = []rbacaudit.Finding{}
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(findings, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(findings)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	w := printers.GetNewTabWriter(out)
	header := "SUBJECT\tKIND\tCAN\tSCOPE\tVIA"
	if checking {
		header += "\tEXPECTED"
	}
	fmt.Fprintln(w, header)
	for _, f := range findings {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", rbacaudit.SubjectString(f.Subject), f.Subject.Kind, f.Can, f.Scope, strings.Join(f.Via, ", "))
		if checking && f.Expected != nil {
			line += fmt.Sprintf("\t%t", *f.Expected)
		}
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}
