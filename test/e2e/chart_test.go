package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The chart tests render and dry-run release chartRelease in
// chartNamespace: names apart from the stack's own gitgate objects.
const (
	chartNamespace = "gitgate-chart"
	chartRelease   = "gitgate-chart"
)

// object is one rendered manifest, read generically.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }
func (o object) name() string { return str(o, "metadata", "name") }

// str reads a string at a path of map keys.
func str(o map[string]any, path ...string) string {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// helm runs bin/helm with the stack's kubeconfig.
func helm(args ...string) (string, error) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	cmd := exec.Command(filepath.Join(root, "bin", "helm"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+stack.Kubeconfig, "HELM_KUBECONTEXT=admin")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return stderr.String(), err
	}
	return string(out), nil
}

// renderChart renders charts/gitgate as release gitgate in chartNamespace.
func renderChart(t *testing.T, args ...string) (string, []object) {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	out, err := helm(append([]string{"template", chartRelease, filepath.Join(root, "charts", "gitgate"), "--namespace", chartNamespace}, args...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, out)
	}
	var objs []object
	for _, doc := range strings.Split(out, "\n---") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return out, objs
}

func find(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// setupChartTests installs the CRDs of the kinds the chart may render and
// the namespace it renders into.
func setupChartTests(t *testing.T) {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	for _, crd := range []string{"cert-manager.io_certificates.yaml", "cert-manager.io_issuers.yaml", "monitoring.coreos.com_servicemonitors.yaml"} {
		kubectl(t, "admin", "apply", "--server-side", "-f", filepath.Join(root, "bin", "crds", crd))
	}
	for _, crd := range []string{"certificates.cert-manager.io", "issuers.cert-manager.io", "servicemonitors.monitoring.coreos.com"} {
		kubectl(t, "admin", "wait", "--for=condition=Established", "--timeout=60s", "crd/"+crd)
	}
	if _, err := stack.Kubectl(context.Background(), "admin", "get", "namespace", chartNamespace); err != nil {
		kubectl(t, "admin", "create", "namespace", chartNamespace)
	}
}

// verifyServingPair checks that the CA bundle signs the serving
// certificate for the Service's DNS name.
func verifyServingPair(t *testing.T, caBundle, certB64 string) {
	t.Helper()
	caPEM, err := base64.StdEncoding.DecodeString(caBundle)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := base64.StdEncoding.DecodeString(certB64)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("caBundle holds no certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("tls.crt holds no PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: chartRelease + "." + chartNamespace + ".svc"}); err != nil {
		t.Fatalf("the serving certificate does not verify for the Service: %v", err)
	}
}

func TestChartRendersObjectsTheAPIServerAccepts(t *testing.T) {
	setupChartTests(t)
	repos := `config.repositories=[{"name":"shop","url":"https://git.example.com/shop.git","namespaces":["shop"],"secretRef":{"namespace":"gitgate-chart","name":"shop-auth"}},` +
		`{"name":"pay","url":"ssh://git@git.example.com/pay.git","namespaces":["pay"],"secretRef":{"namespace":"kube-public","name":"pay-auth"}}]`
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, objs []object)
	}{
		{"defaults: generated TLS, webhook, two replicas", nil, func(t *testing.T, objs []object) {
			if len(find(objs, "PodDisruptionBudget")) != 1 || len(find(objs, "ValidatingWebhookConfiguration")) != 1 || len(find(objs, "ValidatingAdmissionPolicy")) != 0 {
				t.Fatal("want a PodDisruptionBudget and the webhook, no policy")
			}
			secret := find(objs, "Secret")[0]
			api := find(objs, "APIService")[0]
			hook := find(objs, "ValidatingWebhookConfiguration")[0]
			ca := str(api, "spec", "caBundle")
			hookCA := hook["webhooks"].([]any)[0].(map[string]any)["clientConfig"].(map[string]any)["caBundle"]
			if ca == "" || hookCA != ca || str(secret, "data", "ca.crt") != ca {
				t.Fatal("the APIService, the webhook and the Secret must carry the same CA")
			}
			verifyServingPair(t, ca, str(secret, "data", "tls.crt"))
		}},
		{"cert-manager with the release's own CA", []string{"--set", "tls.mode=certManager"}, func(t *testing.T, objs []object) {
			if len(find(objs, "Certificate")) != 2 || len(find(objs, "Issuer")) != 2 || len(find(objs, "Secret")) != 0 {
				t.Fatal("want a CA and a serving Certificate, two Issuers, no Secret")
			}
			api := find(objs, "APIService")[0]
			if str(api, "metadata", "annotations", "cert-manager.io/inject-ca-from") != chartNamespace+"/"+chartRelease || str(api, "spec", "caBundle") != "" {
				t.Fatalf("APIService: want cert-manager's CA injection and no caBundle: %v", api["metadata"])
			}
		}},
		{"cert-manager with a ClusterIssuer", []string{"--set", "tls.mode=certManager", "--set", "tls.certManager.issuerRef.name=corp-ca", "--set", "tls.certManager.issuerRef.kind=ClusterIssuer"}, func(t *testing.T, objs []object) {
			if len(find(objs, "Issuer")) != 0 || len(find(objs, "Certificate")) != 1 {
				t.Fatal("want only the serving Certificate")
			}
		}},
		{"existing Secret", []string{"--set", "tls.mode=existingSecret", "--set", "tls.existingSecret.name=my-tls", "--set", "tls.existingSecret.caBundle=" + base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\n"))}, func(t *testing.T, objs []object) {
			dep := find(objs, "Deployment")[0]
			if !strings.Contains(yamlOf(t, dep), "secretName: my-tls") || len(find(objs, "Secret")) != 0 {
				t.Fatal("the Deployment must mount my-tls, and the chart make no Secret")
			}
		}},
		{"policy mode", []string{"--set", "admission.mode=policy"}, func(t *testing.T, objs []object) {
			if len(find(objs, "ValidatingAdmissionPolicy")) != 1 || len(find(objs, "ValidatingAdmissionPolicyBinding")) != 1 || len(find(objs, "ValidatingWebhookConfiguration")) != 0 {
				t.Fatal("want the policy and its binding, no webhook")
			}
			if dep := yamlOf(t, find(objs, "Deployment")[0]); !strings.Contains(dep, "--admission-port=0") {
				t.Fatal("the server must not serve a webhook in policy mode")
			}
		}},
		{"no enforcement, one replica", []string{"--set", "admission.mode=none", "--set", "replicas=1"}, func(t *testing.T, objs []object) {
			if len(find(objs, "ValidatingAdmissionPolicy"))+len(find(objs, "ValidatingWebhookConfiguration"))+len(find(objs, "PodDisruptionBudget")) != 0 {
				t.Fatal("want no admission objects and no PodDisruptionBudget for one replica")
			}
		}},
		{"repositories, receiver and a ServiceMonitor", []string{"--set-json", repos, "--set", "metrics.serviceMonitor.enabled=true", "--set", "receiver.enabled=true"}, func(t *testing.T, objs []object) {
			if svc := yamlOf(t, find(objs, "Service")[0]); !strings.Contains(svc, "name: receiver") || !strings.Contains(yamlOf(t, find(objs, "Deployment")[0]), "--receiver-port=9444") {
				t.Fatal("want the receiver's port on the Service and the server")
			}
			roles := map[string]string{}
			for _, r := range find(objs, "Role") {
				roles[str(r, "metadata", "namespace")] = yamlOf(t, r)
			}
			if !strings.Contains(roles[chartNamespace], "shop-auth") || !strings.Contains(roles["kube-public"], "pay-auth") || strings.Contains(roles[chartNamespace], "pay-auth") {
				t.Fatalf("want one Role per credentials namespace, naming exactly its Secrets: %v", roles)
			}
			if len(find(objs, "ServiceMonitor")) != 1 {
				t.Fatal("want a ServiceMonitor")
			}
			var cm object
			for _, o := range find(objs, "ConfigMap") {
				cm = o
			}
			if c := str(cm, "data", "config.yaml"); !strings.Contains(c, "url: ssh://git@git.example.com/pay.git") {
				t.Fatalf("config.yaml:\n%s", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, objs := renderChart(t, tt.args...)
			tt.check(t, objs)
			for _, o := range objs {
				if o.kind() == "Deployment" {
					checkHardenedPod(t, o)
					checkServerTakesArgs(t, o)
				}
			}
			// Every object as the API server would take it, changing nothing.
			if res, err := stack.KubectlStdin(context.Background(), "admin", []byte(out), "apply", "--server-side", "--force-conflicts",
				"--field-manager=chart-test", "--dry-run=server", "-f", "-"); err != nil {
				t.Fatalf("server-side dry run: %v\n%s", err, res)
			}
		})
	}
}

// checkHardenedPod checks the Deployment's pod security settings.
func checkHardenedPod(t *testing.T, dep object) {
	t.Helper()
	y := yamlOf(t, dep)
	for _, want := range []string{"runAsNonRoot: true", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false", "path: /readyz", "path: /livez", "podAntiAffinity", "priorityClassName: system-cluster-critical"} {
		if !strings.Contains(y, want) {
			t.Errorf("the Deployment lacks %q", want)
		}
	}
}

// checkServerTakesArgs runs the gitgate-apiserver binary with the
// container's arguments (and --help, so it only parses them): a flag the
// server does not know, or a value it cannot read, fails here.
func checkServerTakesArgs(t *testing.T, dep object) {
	t.Helper()
	var spec struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Args []string `json:"args"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(yamlOf(t, dep)), &spec); err != nil {
		t.Fatal(err)
	}
	args := spec.Spec.Template.Spec.Containers[0].Args
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if out, err := exec.Command(filepath.Join(root, "bin", "gitgate-apiserver"), append(args, "--help")...).CombinedOutput(); err != nil {
		t.Fatalf("gitgate-apiserver refuses the chart's arguments %v: %v\n%s", args, err, lastLines(string(out), 5))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func yamlOf(t *testing.T, o object) string {
	b, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestChartSchemaRefusesBadValues(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown TLS mode", []string{"--set", "tls.mode=selfmade"}, "/tls/mode"},
		{"unknown admission mode", []string{"--set", "admission.mode=strict"}, "/admission/mode"},
		{"no replicas", []string{"--set", "replicas=0"}, "/replicas"},
		{"misspelt key", []string{"--set", "replica=3"}, "'replica' not allowed"},
		{"repository without url", []string{"--set-json", `config.repositories=[{"name":"a","namespaces":["a"]}]`}, "url"},
		{"bad duration", []string{"--set", "git.timeout=soon"}, "/git/timeout"},
		{"shutdown delay without a unit", []string{"--set-string", "shutdownDelay=5"}, "/shutdownDelay"},
		{"existing Secret without its CA", []string{"--set", "tls.mode=existingSecret", "--set", "tls.existingSecret.name=x"}, "/tls"},
		{"failure policy", []string{"--set", "admission.failurePolicy=Maybe"}, "/admission/failurePolicy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helm(append([]string{"template", "gitgate", filepath.Join(root, "charts", "gitgate")}, tt.args...)...)
			if err == nil {
				t.Fatalf("helm template accepted %v", tt.args)
			}
			if !strings.Contains(out, "values don't meet the specifications of the schema") || !strings.Contains(out, tt.want) {
				t.Fatalf("error does not name %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestChartKeepsItsGeneratedCertificateOnUpgrade renders against the
// cluster (helm template --dry-run=server, so lookup works), as an upgrade
// would: the Secret already there is reused, not replaced.
func TestChartKeepsItsGeneratedCertificateOnUpgrade(t *testing.T) {
	setupChartTests(t)
	_, first := renderChart(t)
	secret := find(first, "Secret")[0]
	b, err := yaml.Marshal(secret)
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, "admin", "delete", "secret", chartRelease+"-tls", "-n", chartNamespace, "--ignore-not-found")
	if out, err := stack.KubectlStdin(context.Background(), "admin", b, "create", "-f", "-"); err != nil {
		t.Fatalf("creating the Secret: %v\n%s", err, out)
	}
	_, again := renderChart(t, "--dry-run=server")
	if got, want := str(find(again, "Secret")[0], "data", "tls.crt"), str(secret, "data", "tls.crt"); got != want {
		t.Fatal("an upgrade would replace the serving certificate")
	}
	if str(find(again, "APIService")[0], "spec", "caBundle") != str(secret, "data", "ca.crt") {
		t.Fatal("an upgrade would change the APIService's caBundle")
	}
	_, fresh := renderChart(t)
	if str(find(fresh, "Secret")[0], "data", "tls.crt") == str(secret, "data", "tls.crt") {
		t.Fatal("without a cluster to read, a new certificate is expected; this test would not tell reuse from chance")
	}
}

// TestChartPolicyIsTheServersPolicy renders policy mode with every value
// that shapes the policy, and compares it with what gitgate-apiserver
// render-policy makes of the same settings.
func TestChartPolicyIsTheServersPolicy(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	_, objs := renderChart(t, "--set", "admission.mode=policy", "--set", "admission.failurePolicy=Ignore", "--set", "admission.protectScale=true",
		"--set-json", `admission.excludedNamespaces=["kube-system","flux-system","monitoring"]`,
		"--set-json", `admission.applierNamespaces=["flux-system","flux-tenants"]`,
		"--set-json", `admission.tenantServiceAccounts=["*:reconciler","team-a:flux"]`,
		"--set-json", `admission.allowedUsers=["ops-bot"]`,
		"--set-json", `admission.allowedGroups=["o'brien's team"]`)
	cmd := exec.Command(filepath.Join(root, "bin", "gitgate-apiserver"), "render-policy", "--name", chartRelease,
		"--failure-policy", "Ignore", "--admission-protect-scale",
		"--excluded-namespaces", "kube-system,flux-system,monitoring,"+chartNamespace,
		"--admission-applier-namespaces", "flux-system,flux-tenants",
		"--admission-tenant-service-accounts", "*:reconciler,team-a:flux",
		"--admission-allowed-users", "ops-bot", "--admission-allowed-groups", "o'brien's team")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render-policy: %v", err)
	}
	var server []object
	for _, doc := range strings.Split(string(out), "---\n") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err == nil && o != nil {
			server = append(server, o)
		}
	}
	for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		chart, srv := find(objs, kind), find(server, kind)
		if len(chart) != 1 || len(srv) != 1 {
			t.Fatalf("%s: %d from the chart, %d from the server", kind, len(chart), len(srv))
		}
		if c, s := yamlOf(t, object{"spec": chart[0]["spec"]}), yamlOf(t, object{"spec": srv[0]["spec"]}); c != s {
			t.Errorf("%s differs:\n--- chart\n%s\n--- server\n%s", kind, c, s)
		}
	}
	// And the API server takes it.
	if res, err := stack.KubectlStdin(context.Background(), "admin", []byte(yamlOf(t, find(objs, "ValidatingAdmissionPolicy")[0])), "apply", "--server-side", "--dry-run=server", "-f", "-"); err != nil {
		t.Fatalf("server-side dry run: %v\n%s", err, res)
	}
}

// webhookFilters are a ValidatingWebhookConfiguration's entries without
// their clientConfig (a Service in the chart, a URL in the local stack):
// the rules, selectors, matchConditions, failure policy and timeout.
func webhookFilters(t *testing.T, config object) string {
	t.Helper()
	hooks, _ := config["webhooks"].([]any)
	var out []any
	for _, h := range hooks {
		m := map[string]any{}
		for k, v := range h.(map[string]any) {
			if k != "clientConfig" {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	return yamlOf(t, object{"webhooks": out})
}

// TestChartWebhookIsTheStacksWebhook compares the chart's webhook entries
// with gitgate-apiserver render-webhook's for the same settings: with the
// defaults, against the configuration the local stack registered in the
// cluster; with every value that shapes it, against the command.
func TestChartWebhookIsTheStacksWebhook(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	t.Run("defaults: the local stack's registered webhook", func(t *testing.T) {
		if err := stack.SetAdmissionMode(context.Background(), "webhook"); err != nil {
			t.Fatal(err)
		}
		out, err := helm("template", "gitgate", filepath.Join(root, "charts", "gitgate"), "--namespace", "gitgate-system")
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, out)
		}
		var chart object
		for _, doc := range strings.Split(out, "\n---") {
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err == nil && o.kind() == "ValidatingWebhookConfiguration" {
				chart = o
			}
		}
		var live object
		if err := yaml.Unmarshal([]byte(kubectl(t, "admin", "get", "validatingwebhookconfiguration", "gitgate", "-o", "yaml")), &live); err != nil {
			t.Fatal(err)
		}
		if c, s := webhookFilters(t, chart), webhookFilters(t, live); c != s {
			t.Errorf("the chart's webhook differs from the local stack's:\n--- chart\n%s\n--- stack\n%s", c, s)
		}
	})
	t.Run("every value that shapes it", func(t *testing.T) {
		for _, protect := range []bool{false, true} {
			args := []string{"--set", "admission.failurePolicy=Ignore", "--set", "admission.timeoutSeconds=7",
				"--set", fmt.Sprintf("admission.protectScale=%v", protect),
				"--set-json", `admission.excludedNamespaces=["kube-system","flux-system","monitoring"]`,
				"--set-json", `admission.applierNamespaces=["flux-system","flux-tenants"]`,
				"--set-json", `admission.tenantServiceAccounts=["*:reconciler","team-a:flux"]`,
				"--set-json", `admission.allowedUsers=["ops-bot"]`,
				"--set-json", `admission.allowedGroups=["o'brien's team"]`}
			_, objs := renderChart(t, args...)
			flags := []string{"render-webhook", "--failure-policy", "Ignore", "--timeout-seconds", "7",
				"--excluded-namespaces", "kube-system,flux-system,monitoring," + chartNamespace,
				"--admission-applier-namespaces", "flux-system,flux-tenants",
				"--admission-tenant-service-accounts", "*:reconciler,team-a:flux",
				"--admission-allowed-users", "ops-bot", "--admission-allowed-groups", "o'brien's team"}
			if protect {
				flags = append(flags, "--admission-protect-scale")
			}
			out, err := exec.Command(filepath.Join(root, "bin", "gitgate-apiserver"), flags...).Output()
			if err != nil {
				t.Fatalf("render-webhook: %v", err)
			}
			var server object
			if err := yaml.Unmarshal(out, &server); err != nil {
				t.Fatal(err)
			}
			chart := find(objs, "ValidatingWebhookConfiguration")
			if len(chart) != 1 {
				t.Fatalf("want one ValidatingWebhookConfiguration, got %d", len(chart))
			}
			if c, s := webhookFilters(t, chart[0]), webhookFilters(t, server); c != s {
				t.Errorf("protectScale=%v: the chart's webhook differs from render-webhook's:\n--- chart\n%s\n--- server\n%s", protect, c, s)
			}
		}
	})
}
