package gitgate

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/gitgate-dev/gitgate/pkg/rbacaudit"
)

func TestAuditExpectationFile(t *testing.T) {
	tests := []struct {
		name, file, wantErr string
		want                int
	}{
		{"read: globs and capabilities", "- {kind: ServiceAccount, namespace: flux-system, name: \"*\"}\n- {kind: Group, name: shop-release-managers, can: [breakglass]}\n", "", 2},
		{"read: the governance capabilities freeze and approve", "- {kind: Group, name: shop-release-managers, can: [freeze, approve]}\n", "", 1},
		{"refused: an unknown field", "- {kind: Group, nam: typo}\n", "must be a YAML list", 0},
		{"refused: an unknown capability", "- {kind: Group, name: g, can: [breakglas]}\n", `entry 1: capability "breakglas" is unknown`, 0},
		{"refused: an unknown kind", "- {kind: Team, name: g}\n", `entry 1: kind "Team"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "expected.yaml")
			if err := os.WriteFile(file, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := (&auditOptions{expectFile: file}).expectations()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one holding %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("%d expectations, %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

func TestAuditTableMarksUnexpectedSubjects(t *testing.T) {
	findings := []rbacaudit.Finding{
		{Subject: rbacv1.Subject{Kind: "Group", Name: "shop-release-managers"}, Can: rbacaudit.BreakGlass, Scope: "environments prod in namespace shop", Via: []string{"RoleBinding shop/rm (Role rm)"}},
		{Subject: rbacv1.Subject{Kind: "User", Name: "alice"}, Can: rbacaudit.Impersonate, Scope: "serviceaccounts kustomize-controller in namespace flux-system", Via: []string{"RoleBinding flux-system/x (Role x)"}},
	}
	unexpected := rbacaudit.Compare(findings, []rbacaudit.Expectation{{Kind: "Group", Name: "shop-*"}})
	var out bytes.Buffer
	if err := printFindings(&out, "", findings, true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(unexpected) != 1 || len(lines) != 3 || !strings.HasPrefix(lines[0], "SUBJECT") ||
		!strings.HasSuffix(lines[1], "true") || !strings.HasPrefix(lines[2], "alice") || !strings.HasSuffix(lines[2], "false") {
		t.Fatalf("table:\n%s\nunexpected: %+v", out.String(), unexpected)
	}
}
