package gitgate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	ssv1alpha1 "github.com/bitnami/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/kubectl/plugin"
	"github.com/gitgate-dev/gitgate/pkg/sealing"
)

// certFetchTimeout bounds fetching a --cert URL.
const certFetchTimeout = 30 * time.Second

// sealOptions are the flags of `kubectl gitgate seal`.
type sealOptions struct {
	*common
	environment, file, secretType, scope, cert string
	controllerNamespace, controllerName        string
	literals, files                            []string
	overwrite                                  bool
	dryRun, output, message                    string
	overrideFreeze                             string
}

func newSeal(c *common) *cobra.Command {
	o := &sealOptions{common: c}
	cmd := &cobra.Command{
		Use:   "seal [NAME --from-literal=KEY=VALUE|--from-file=[KEY=]PATH]... --environment ENV [-f FILE]",
		Short: "Seal a Secret on this machine and commit it into an environment",
		Long: templates.LongDesc(`
			Seal a Secret with the Sealed Secrets controller's public certificate,
			here on the client, and commit the resulting SealedSecret into the
			environment's path and its kustomization's resources. The plain values
			never leave this machine.

			The Secret comes from -f FILE, from standard input, or from NAME with
			--from-literal and --from-file. Its namespace is the environment's (the
			overlay's namespace:). The certificate is fetched from the controller
			through the API server's service proxy, as kubeseal does, or read from
			--cert. It needs the "seal" verb on the environment.`),
		Example: templates.Examples(`
			kubectl create secret generic db --from-literal=password=s3cr3t --dry-run=client -o yaml |
			  kubectl gitgate seal --environment prod
			kubectl gitgate seal db --from-literal=password=s3cr3t --environment prod --overwrite
			kubectl gitgate seal -f secret.yaml --environment prod --cert sealing-cert.pem --dry-run=client -o yaml`),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.validate(cmd, args))
			cmdutil.CheckErr(c.complete())
			cmdutil.CheckErr(o.run(cmd.Context(), args))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.environment, "environment", "", "Environment to commit the SealedSecret into (required).")
	f.StringVarP(&o.file, "filename", "f", "", "File holding the Secret to seal; - for standard input (the default without NAME).")
	f.StringArrayVar(&o.literals, "from-literal", nil, "KEY=VALUE to put in the Secret NAME (repeatable).")
	f.StringArrayVar(&o.files, "from-file", nil, "[KEY=]PATH whose content to put in the Secret NAME (repeatable).")
	f.StringVar(&o.secretType, "type", string(corev1.SecretTypeOpaque), "Type of the Secret made from NAME.")
	f.StringVar(&o.scope, "scope", "strict", "How the SealedSecret is bound: strict (namespace and name), namespace-wide or cluster-wide.")
	f.StringVar(&o.cert, "cert", "", "Sealing certificate: a file, or an http(s) URL. Default: fetched from the controller.")
	f.StringVar(&o.controllerNamespace, "controller-namespace", "kube-system", "Namespace of the Sealed Secrets controller.")
	f.StringVar(&o.controllerName, "controller-name", "sealed-secrets-controller", "Name of the Sealed Secrets controller's Service.")
	f.BoolVar(&o.overwrite, "overwrite", false, "Replace a SealedSecret of the same name in the environment.")
	f.StringVar(&o.dryRun, "dry-run", "none", `"none", "server" (every check, nothing committed) or "client" (seal and print, nothing sent).`)
	f.StringVarP(&o.output, "output", "o", "", "Print the SealedSecret as yaml or json, or its name (name).")
	f.StringVarP(&o.message, "message", "m", "", "Message added to the commit.")
	plugin.AddOverrideFreezeFlag(f, &o.overrideFreeze)
	_ = cmd.RegisterFlagCompletionFunc("environment", plugin.CompleteEnvironments(c.configFlags, false))
	return cmd
}

func (o *sealOptions) validate(cmd *cobra.Command, args []string) error {
	if o.environment == "" {
		return cmdutil.UsageErrorf(cmd, "--environment is required")
	}
	fromFlags := len(o.literals)+len(o.files) > 0
	switch {
	case len(args) > 1:
		return cmdutil.UsageErrorf(cmd, "at most one NAME may be given, got %d arguments", len(args))
	case len(args) == 1 && !fromFlags:
		return cmdutil.UsageErrorf(cmd, "NAME needs --from-literal or --from-file; to seal a Secret manifest use -f FILE")
	case len(args) == 0 && fromFlags:
		return cmdutil.UsageErrorf(cmd, "--from-literal and --from-file need the Secret's NAME")
	case fromFlags && o.file != "":
		return cmdutil.UsageErrorf(cmd, "-f and --from-literal/--from-file are exclusive")
	}
	if _, err := sealing.ParseScope(o.scope); err != nil {
		return cmdutil.UsageErrorf(cmd, "--scope: %v", err)
	}
	switch o.dryRun {
	case "none", "server", "client":
	default:
		return cmdutil.UsageErrorf(cmd, `--dry-run must be "none", "server" or "client", not %q`, o.dryRun)
	}
	switch o.output {
	case "", "yaml", "json", "name":
	default:
		return cmdutil.UsageErrorf(cmd, "--output must be yaml, json or name, not %q", o.output)
	}
	return nil
}

func (o *sealOptions) run(ctx context.Context, args []string) error {
	secret, err := o.readSecret(args)
	if err != nil {
		return err
	}
	env, err := o.client.GitgateV1alpha1().Environments(o.namespace).Get(ctx, o.environment, metav1.GetOptions{})
	if err != nil {
		return err
	}
	ns := env.Status.Namespace
	if ns == "" {
		return fmt.Errorf("environment %s's overlay (%s) sets no namespace: a sealed secret must be bound to one; add namespace: to its kustomization.yaml", env.Name, env.Spec.Path)
	}
	if secret.Namespace != "" && secret.Namespace != ns {
		return fmt.Errorf("secret %s names namespace %s, but environment %s deploys into %s: leave the namespace out or make it %s", secret.Name, secret.Namespace, env.Name, ns, ns)
	}
	secret.Namespace = ns
	pemBytes, err := o.certificate(ctx)
	if err != nil {
		return err
	}
	key, err := sealing.ParseCertificate(pemBytes, time.Now())
	if err != nil {
		return err
	}
	scope, _ := sealing.ParseScope(o.scope)
	sealed, err := sealing.Seal(secret, key, scope)
	if err != nil {
		return err
	}
	if o.dryRun == "client" {
		return o.print(sealed, "sealed (dry run)")
	}
	raw, err := json.Marshal(sealed)
	if err != nil {
		return err
	}
	req := &v1alpha1.SealedSecretRequest{Spec: v1alpha1.SealedSecretRequestSpec{
		SealedSecret: runtime.RawExtension{Raw: raw}, Overwrite: o.overwrite, Message: o.message,
	}}
	plugin.SetOverrideFreeze(&req.ObjectMeta, o.overrideFreeze)
	opts := metav1.CreateOptions{}
	if o.dryRun == "server" {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	res, err := o.client.GitgateV1alpha1().Environments(o.namespace).CreateSealedSecret(ctx, o.environment, req, opts)
	if err != nil {
		return err
	}
	verb := "committed"
	if res.Status.Replaced {
		verb = "replaced"
	}
	what := fmt.Sprintf("%s into environment %s (%s:%s", verb, env.Name, res.Status.Branch, res.Status.Path)
	if res.Status.Commit != "" {
		what += " at " + res.Status.Commit[:min(7, len(res.Status.Commit))]
	}
	what += ")"
	if o.dryRun == "server" {
		what += " (server dry run)"
	}
	return o.print(sealed, what)
}

// print writes the SealedSecret as -o asks, or one line saying what happened.
func (o *sealOptions) print(sealed *ssv1alpha1.SealedSecret, what string) error {
	name := "sealedsecret.bitnami.com/" + sealed.Name
	switch o.output {
	case "yaml":
		b, err := yaml.Marshal(sealed)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	case "json":
		b, err := json.MarshalIndent(sealed, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	case "name":
		_, err := fmt.Fprintln(o.Out, name)
		return err
	}
	_, err := fmt.Fprintf(o.Out, "%s %s\n", name, what)
	return err
}

// readSecret builds the Secret from NAME and --from-* flags, or reads it
// from -f or standard input.
func (o *sealOptions) readSecret(args []string) (*corev1.Secret, error) {
	if len(args) == 1 {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: args[0]}, Type: corev1.SecretType(o.secretType), Data: map[string][]byte{}}
		for _, kv := range o.literals {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--from-literal %q: must be KEY=VALUE", kv)
			}
			s.Data[k] = []byte(v)
		}
		for _, spec := range o.files {
			k, p, ok := strings.Cut(spec, "=")
			if !ok {
				k, p = filepath.Base(spec), spec
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("--from-file: %w", err)
			}
			s.Data[k] = b
		}
		return s, nil
	}
	var in io.Reader = o.In
	if o.file != "" && o.file != "-" {
		b, err := os.ReadFile(o.file)
		if err != nil {
			return nil, err
		}
		in = bytes.NewReader(b)
	}
	var s corev1.Secret
	if err := utilyaml.NewYAMLOrJSONDecoder(in, 4096).Decode(&s); err != nil {
		return nil, fmt.Errorf("reading the Secret to seal: %w", err)
	}
	if s.Kind != "Secret" || (s.APIVersion != "v1" && s.APIVersion != "") {
		return nil, fmt.Errorf("the input is a %s %s, not a v1 Secret", s.APIVersion, s.Kind)
	}
	return &s, nil
}

// certificate reads --cert, or fetches the controller's certificate through
// the API server's service proxy, as kubeseal does.
func (o *sealOptions) certificate(ctx context.Context) ([]byte, error) {
	if o.cert != "" {
		if strings.HasPrefix(o.cert, "http://") || strings.HasPrefix(o.cert, "https://") {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.cert, nil)
			if err != nil {
				return nil, err
			}
			resp, err := (&http.Client{Timeout: certFetchTimeout}).Do(req)
			if err != nil {
				return nil, fmt.Errorf("fetching --cert: %w", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("fetching --cert %s: %s", o.cert, resp.Status)
			}
			return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		}
		return os.ReadFile(o.cert)
	}
	config, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	core, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	svc, err := core.CoreV1().Services(o.controllerNamespace).Get(ctx, o.controllerName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("cannot find the Sealed Secrets controller's Service: %w; set --controller-namespace and --controller-name, or pass --cert", err)
	}
	if len(svc.Spec.Ports) == 0 {
		return nil, fmt.Errorf("service %s/%s has no ports", svc.Namespace, svc.Name)
	}
	b, err := core.CoreV1().Services(svc.Namespace).ProxyGet("http", svc.Name, svc.Spec.Ports[0].Name, "/v1/cert.pem", nil).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching the sealing certificate from %s/%s: %w; or pass --cert", svc.Namespace, svc.Name, err)
	}
	return b, nil
}
