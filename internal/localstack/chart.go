package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// The chart's release as the stack installs its parts.
const (
	releaseName      = "gitgate"
	releaseNamespace = "gitgate-system"
	// serverServiceAccount is the chart's ServiceAccount for release gitgate.
	serverServiceAccount = "gitgate"
)

// chartRepository is one entry of the chart's config.repositories.
type chartRepository struct {
	Name          string            `json:"name"`
	URL           string            `json:"url"`
	DefaultBranch string            `json:"defaultBranch"`
	Namespaces    []string          `json:"namespaces"`
	SecretRef     map[string]string `json:"secretRef"`
	PollInterval  string            `json:"pollInterval"`
	CommitAuthor  map[string]string `json:"commitAuthor"`
	Signing       map[string]any    `json:"signing,omitempty"`
}

// renderChart runs helm template on charts/gitgate for the stack's
// repository, serving namespaces, and the fleets' (see NewFleet), and
// returns the templates asked for. Callers hold s.fleets.mu, or run before
// the stack is shared.
func (s *Stack) renderChart(ctx context.Context, namespaces []string, templates ...string) ([]byte, error) {
	repos, err := s.chartRepositories(namespaces)
	if err != nil {
		return nil, err
	}
	args := []string{"template", releaseName, filepath.Join(s.opts.RepoRoot, "charts", "gitgate"),
		"--namespace", releaseNamespace, "--set-json", "config.repositories=" + repos}
	for _, t := range templates {
		args = append(args, "--show-only", "templates/"+t)
	}
	cmd := exec.CommandContext(ctx, s.bin("helm"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template: %w: %s", err, stderr.String())
	}
	return out, nil
}

// applyChartRBAC installs the chart's ServiceAccount and RBAC: the server
// runs with exactly what the chart grants it, so a permission missing from
// the chart fails the stack's tests.
func (s *Stack) applyChartRBAC(ctx context.Context) error {
	out, err := s.renderChart(ctx, []string{namespace}, "serviceaccount.yaml", "rbac.yaml", "roles.yaml")
	if err != nil {
		return err
	}
	file := s.path("chart-rbac.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		return err
	}
	return s.apply(ctx, file)
}

// writeChartConfig writes the configuration file as the chart's ConfigMap
// renders it, atomically: the server reloads it by itself.
func (s *Stack) writeChartConfig(ctx context.Context, namespaces []string) error {
	out, err := s.renderChart(ctx, namespaces, "configmap.yaml")
	if err != nil {
		return err
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(out, &cm); err != nil {
		return fmt.Errorf("reading the chart's ConfigMap: %w", err)
	}
	config, ok := cm.Data["config.yaml"]
	if !ok || !strings.Contains(config, "repositories:") {
		return fmt.Errorf("the chart's ConfigMap has no config.yaml with repositories:\n%s", out)
	}
	tmp := s.path("gitgate-config.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(config), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path("gitgate-config.yaml")) // never a half-written file
}

// chartRepositories is the chart's config.repositories (JSON) for the
// stack's repository serving namespaces, and the fleets' (see NewFleet).
func (s *Stack) chartRepositories(namespaces []string) (string, error) {
	repos, err := json.Marshal(append([]chartRepository{{
		Name: "shop-fleet", URL: s.Git.URL("fleet"), DefaultBranch: "main", Namespaces: namespaces,
		SecretRef:    map[string]string{"namespace": releaseNamespace, "name": "shop-fleet-auth"},
		PollInterval: s.opts.PollInterval.String(),
		CommitAuthor: map[string]string{"name": "gitgate", "email": "gitgate@example.com"},
	}}, s.extraRepositories()...))
	return string(repos), err
}

// chartAdmissionPort is the chart's default admission.port.
const chartAdmissionPort = 9443

// Helm runs the stack's helm as the admin user, with helm's own files in
// the stack's directory.
func (s *Stack) Helm(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin("helm"), append(args, "--kubeconfig", s.Kubeconfig, "--kube-context", ContextAdmin)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+s.path("helm", "cache"), "HELM_CONFIG_HOME="+s.path("helm", "config"), "HELM_DATA_HOME="+s.path("helm", "data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// ChartPath is charts/gitgate in the stack's checkout.
func (s *Stack) ChartPath() string { return filepath.Join(s.opts.RepoRoot, "charts", "gitgate") }

// Release and ReleaseNamespace name the chart's release on a stack with a node.
const (
	Release          = releaseName
	ReleaseNamespace = releaseNamespace
)

// startChart installs charts/gitgate with helm as a user would (Service,
// APIService and webhook through the Service, TLS generated by the chart,
// the webhook answering only kube-apiserver's client certificate), waits
// for both replicas, then for what Start promises: gitgate.dev Available,
// the fleet's environments, the Sealed Secrets certificate, Flux healthy,
// and Git as the only door.
func (s *Stack) startChart(ctx context.Context) error {
	s.fleets.shop = []string{namespace}
	repos, err := s.chartRepositories(s.fleets.shop)
	if err != nil {
		return err
	}
	if _, err := s.Helm(ctx, "install", releaseName, s.ChartPath(), "--namespace", releaseNamespace,
		"--set-json", "config.repositories="+repos,
		"--set", "admission.clientAuth.configMapName=gitgate-admission-client-ca",
		"--set", "admission.clientAuth.allowedNames={"+AdmissionWebhookClientName+"}",
		"--wait", "--timeout", "5m"); err != nil {
		return err
	}
	if err := s.waitForServing(ctx, namespace); err != nil {
		return err
	}
	if err := s.waitForAdmission(ctx, AdmissionWebhook); err != nil {
		return err
	}
	return s.writeEnvFile()
}
