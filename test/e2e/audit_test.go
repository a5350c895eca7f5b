package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitgate-dev/gitgate/pkg/rbacaudit"
)

// audit runs `kubectl gitgate audit` as admin and returns its output and error.
func audit(args ...string) (string, error) {
	return stack.KubectlPlugin(context.Background(), "admin", append([]string{"gitgate", "audit", "-n", "shop"}, args...)...)
}

func auditFindings(t *testing.T) []rbacaudit.Finding {
	t.Helper()
	out, err := audit("-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var findings []rbacaudit.Finding
	if err := json.Unmarshal([]byte(out), &findings); err != nil {
		t.Fatalf("the audit's JSON: %v\n%s", err, out)
	}
	return findings
}

// has reports the finding of a subject and capability whose scope holds scope.
func has(findings []rbacaudit.Finding, kind, subject string, can rbacaudit.Capability, scope string) bool {
	for _, f := range findings {
		if f.Subject.Kind == kind && rbacaudit.SubjectString(f.Subject) == subject && f.Can == can && strings.Contains(f.Scope, scope) {
			return true
		}
	}
	return false
}

// TestAuditListsWhoCanGetAroundGitgate reads the stack's live RBAC (the
// example roles of artifacts/rbac/shop-teams.yaml, Flux as it installs
// itself), then adds a dangerous grant and checks that CI would fail on it.
func TestAuditListsWhoCanGetAroundGitgate(t *testing.T) {
	ctx := context.Background()
	admissionRBAC(t) // Flux's applier as Flux installs it

	// What the example RBAC grants: bob's group holds breakglass on prod,
	// and the governance verbs freeze and approve on every environment;
	// alice's group approves into dev and test; the platform group edits
	// environment definitions, and Flux's appliers hold everything.
	baseline := auditFindings(t)
	for _, want := range []struct {
		kind, subject string
		can           rbacaudit.Capability
		scope         string
	}{
		{"Group", "shop-release-managers", rbacaudit.BreakGlass, "prod in namespace shop"},
		{"Group", "shop-release-managers", rbacaudit.Freeze, "prod in namespace shop"},
		{"Group", "shop-release-managers", rbacaudit.Approve, "prod in namespace shop"},
		{"Group", "shop-developers", rbacaudit.Approve, "test in namespace shop"},
		{"Group", "shop-platform", rbacaudit.EditEnvironments, "namespace shop"},
		{"ServiceAccount", "flux-system/kustomize-controller", rbacaudit.Everything, "the cluster"},
	} {
		if !has(baseline, want.kind, want.subject, want.can, want.scope) {
			t.Errorf("the audit does not report %s %s %s (%s):\n%s", want.kind, want.subject, want.can, want.scope, yamlFindings(baseline))
		}
	}
	for _, can := range []rbacaudit.Capability{rbacaudit.BreakGlass, rbacaudit.Freeze} {
		if has(baseline, "Group", "shop-developers", can, "") {
			t.Errorf("the audit reports %s for shop-developers, who may only promote and approve into dev and test:\n%s", can, yamlFindings(baseline))
		}
	}
	if has(baseline, "Group", "shop-developers", rbacaudit.Approve, "prod") {
		t.Errorf("the audit reports approve on prod for shop-developers, who approve into dev and test only:\n%s", yamlFindings(baseline))
	}
	table, err := audit()
	if err != nil || !strings.Contains(table, "SUBJECT") || !strings.Contains(table, "RoleBinding shop/shop-release-managers-promote (Role gitgate-release-manager)") {
		t.Fatalf("the audit's table names no binding: %v\n%s", err, table)
	}
	t.Logf("kubectl gitgate audit -n shop, on the stack:\n%s", table)

	// A platform team's expectations: exactly what is there now.
	var expected []rbacaudit.Expectation
	for _, f := range baseline {
		expected = append(expected, rbacaudit.Expectation{Kind: f.Subject.Kind, Namespace: f.Subject.Namespace, Name: f.Subject.Name})
	}
	data, err := yaml.Marshal(expected)
	if err != nil {
		t.Fatal(err)
	}
	expectFile := filepath.Join(t.TempDir(), "expected.yaml")
	if err := os.WriteFile(expectFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := audit("--expect", expectFile); err != nil {
		t.Fatalf("the audit fails although every subject is expected: %v\n%s", err, out)
	}

	// A dangerous grant: alice may impersonate Flux's applier, which
	// admission cannot tell from Flux itself.
	kubectl(t, "admin", "create", "role", "audit-impersonate-flux", "-n", "flux-system",
		"--verb=impersonate", "--resource=serviceaccounts", "--resource-name=kustomize-controller")
	t.Cleanup(func() {
		_, _ = stack.Kubectl(ctx, "admin", "delete", "role", "audit-impersonate-flux", "-n", "flux-system", "--ignore-not-found")
	})
	kubectl(t, "admin", "create", "rolebinding", "audit-impersonate-flux", "-n", "flux-system", "--role=audit-impersonate-flux", "--user=alice")
	t.Cleanup(func() {
		_, _ = stack.Kubectl(ctx, "admin", "delete", "rolebinding", "audit-impersonate-flux", "-n", "flux-system", "--ignore-not-found")
	})
	if out := kubectl(t, "alice", "auth", "can-i", "impersonate", "serviceaccounts/kustomize-controller", "-n", "flux-system"); strings.TrimSpace(out) != "yes" {
		t.Fatalf("the grant does not work: alice can-i impersonate: %s", out)
	}

	out, err := audit("--expect", expectFile)
	if err == nil {
		t.Fatalf("the audit passes with alice able to impersonate Flux's applier:\n%s", out)
	}
	if !strings.Contains(out, "1 unexpected ways around gitgate: User alice (impersonate)") {
		t.Fatalf("the audit's failure does not name alice's impersonation alone:\n%s", out)
	}
	if !has(auditFindings(t), "User", "alice", rbacaudit.Impersonate, "serviceaccounts kustomize-controller in namespace flux-system") {
		t.Fatal("the audit's JSON does not report alice's impersonation")
	}
	// --allow covers her, as an expectation file would.
	if out, err := audit("--expect", expectFile, "--allow", "User:alice"); err != nil {
		t.Fatalf("the audit fails although alice is allowed: %v\n%s", err, out)
	}

	// Without the grant, CI passes again.
	kubectl(t, "admin", "delete", "rolebinding", "audit-impersonate-flux", "-n", "flux-system")
	if out, err := audit("--expect", expectFile); err != nil {
		t.Fatalf("the audit still fails once the grant is gone: %v\n%s", err, out)
	}
}

func yamlFindings(findings []rbacaudit.Finding) string {
	b, _ := yaml.Marshal(findings)
	return string(b)
}
