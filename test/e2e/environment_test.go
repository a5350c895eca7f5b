package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnvironmentWritesAreCommits(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	// Every environment owns its own overlay: staging gets one.
	if err := os.MkdirAll(filepath.Join(fleet.dir, "overlays", "staging"), 0o755); err != nil {
		t.Fatal(err)
	}
	fleet.commitFiles("Add the staging overlay", map[string]string{
		"overlays/staging/kustomization.yaml": "resources:\n- ../../base\nimages:\n- name: app\n  newName: registry.example.com/app\n  newTag: version-1.2.3\n",
	})
	t.Cleanup(func() {
		fleet.commitFiles("Remove the staging overlay", map[string]string{"overlays/staging/kustomization.yaml": ""})
	})
	manifest := "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: staging}\nspec: {path: overlays/staging, promotesFrom: test}\n"
	kubectlOK := func(args ...string) string {
		t.Helper()
		out, err := stack.KubectlStdin(context.Background(), "admin", []byte(manifest), args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A refused write is not re-checked against the remote's newest head:
	// wait until gitgate has read the new overlay.
	eventually(t, "gitgate reads overlays/staging", 30*time.Second, func() string {
		out, err := stack.KubectlStdin(context.Background(), "admin", []byte(manifest), "create", "-n", ns, "-f", "-", "--dry-run=server")
		if err != nil {
			return out
		}
		return ""
	})
	kubectlOK("create", "-n", ns, "-f", "-")
	fleet.head()
	if file := fleet.git(fleet.dir, "show", "origin/main:.gitgate/environments/staging.yaml"); !strings.Contains(file, "promotesFrom: test") {
		t.Fatalf("staging.yaml in Git:\n%s", file)
	}
	staleRV := kubectl(t, "admin", "get", "env", "staging", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}")

	// Someone changes the definition in Git; a replace from the old read conflicts.
	kubectl(t, "admin", "patch", "env", "staging", "-n", ns, "--type=merge", "-p", `{"spec":{"imageTagPattern":"^version-"}}`)
	manifest = "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: staging, resourceVersion: \"" + staleRV + "\"}\nspec: {path: overlays/staging}\n"
	out, err := stack.KubectlStdin(context.Background(), "admin", []byte(manifest), "replace", "-n", ns, "-f", "-")
	if err == nil || !strings.Contains(out, "Conflict") {
		t.Fatalf("replace with a stale resourceVersion: %v %s, want a 409 Conflict", err, out)
	}
	if bad := kubectlFails(t, "admin", "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: broken}\nspec: {path: overlays/nowhere}\n",
		"create", "-n", ns, "-f", "-"); !strings.Contains(bad, "spec.path") {
		t.Errorf("environment with a missing path: %s", bad)
	}

	kubectl(t, "admin", "delete", "env", "staging", "-n", ns)
	fleet.head()
	if files := fleet.git(fleet.dir, "ls-tree", "--name-only", "origin/main", ".gitgate/environments/"); strings.Contains(files, "staging") {
		t.Fatalf("staging.yaml still in Git:\n%s", files)
	}
}
