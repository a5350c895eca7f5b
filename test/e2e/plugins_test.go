package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// plugin runs a kubectl plugin command and returns its output and error.
func plugin(user string, args ...string) (string, error) {
	return stack.KubectlPlugin(context.Background(), user, args...)
}

func TestKubectlCreatePromotion(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	fleet.setTag("test", "version-20.")
	before := fleet.head()

	// Dry run first: the plan, nothing written.
	out, err := plugin("bob", "create", "promotion", "--to", "prod", "--dry-run=server", "-o", "yaml", "-n", ns)
	if err != nil || !strings.Contains(out, "changes:") || !strings.Contains(out, "name: app") {
		t.Fatalf("server dry run: %v\n%s", err, out)
	}
	if fleet.head() != before {
		t.Fatal("a dry run changed Git")
	}

	// kubectl's -v: at 6, client-go logs each request it sends.
	out, err = plugin("bob", "create", "promotion", "--to", "prod", "--dry-run=server", "-n", ns, "-v=6")
	if err != nil || !strings.Contains(out, `"Response" verb="POST" url="https://`) || !strings.Contains(out, `/apis/gitgate.dev/v1alpha1/namespaces/`+ns+`/promotions?dryRun=All" status="201 Created"`) {
		t.Fatalf("create promotion -v=6 does not log its request: %v\n%s", err, out)
	}
	if out, err := plugin("bob", "gitgate", "history", "prod", "-n", ns, "-v=6"); err != nil || !strings.Contains(out, `"Response" verb="GET" url="https://`) {
		t.Fatalf("gitgate history -v=6 does not log its request: %v\n%s", err, out)
	}

	// Without NAME: a generated name, printed the kubectl way.
	out, err = plugin("bob", "create", "promotion", "--to", "prod", "-m", "release", "-n", ns)
	if err != nil || !strings.HasPrefix(out, "promotion.gitgate.dev/prod-") || !strings.HasSuffix(strings.TrimSpace(out), " created") {
		t.Fatalf("create without NAME: %v\n%s", err, out)
	}
	if msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", fleet.head()); !strings.Contains(msg, "release") || !strings.Contains(msg, "Promoted-By: bob") {
		t.Errorf("commit message:\n%s", msg)
	}

	// With NAME.
	fleet.setTag("dev", "development-20.")
	if out, err := plugin("alice", "create", "promotion", "named-by-alice", "--to", "test", "-n", ns); err != nil || strings.TrimSpace(out) != "promotion.gitgate.dev/named-by-alice created" {
		t.Fatalf("create with NAME: %v\n%s", err, out)
	}

	// -o wide: the server's table, with the wide columns.
	fleet.setTag("dev", "development-22.")
	out, err = plugin("alice", "create", "promotion", "wide-one", "--to", "test", "-o", "wide", "-n", ns)
	if err != nil || !strings.Contains(out, "BRANCH") || !strings.Contains(out, "wide-one") || !strings.Contains(out, "Succeeded") {
		t.Fatalf("-o wide: %v\n%s", err, out)
	}

	// alice into prod: kubectl's own rendering of a 403.
	out, err = plugin("alice", "create", "promotion", "--to", "prod", "-n", ns)
	if err == nil || !strings.Contains(out, "Error from server (Forbidden)") || !strings.Contains(out, `verb "promote"`) {
		t.Fatalf("alice into prod: %v\n%s", err, out)
	}

	// Bad flags: a usage error and exit code 1, no stack trace.
	for _, args := range [][]string{
		{"create", "promotion", "-n", ns},
		{"create", "promotion", "--to", "prod", "--no-such-flag"},
		{"create", "promotion", "a", "b", "--to", "prod"},
		{"gitgate", "rollback", "prod"},
		{"gitgate", "history"},
	} {
		out, err := plugin("alice", args...)
		if err == nil || !strings.Contains(out, "error: ") || !strings.Contains(out, "-h' for help and examples") || strings.Contains(out, "goroutine") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
		if !strings.Contains(err.Error(), "exit status 1") {
			t.Errorf("%v: exit status %v, want 1", args, err)
		}
	}
}

func TestKubectlGitgateHistoryDiffRollback(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	direct := fleet.setTag("test", "version-21.") // a commit that is not a promotion

	// diff: what promoting test into prod would change; exit 1 as kubectl diff.
	out, err := plugin("bob", "gitgate", "diff", "prod", "-n", ns)
	if err == nil || !strings.Contains(out, "+  app: "+direct) || !strings.Contains(out, "--- overlays/prod/kustomization.yaml") {
		t.Fatalf("diff before promoting: %v\n%s", err, out)
	}
	out, err = plugin("bob", "create", "promotion", "to-roll-back", "--to", "prod", "-n", ns)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := plugin("bob", "gitgate", "diff", "prod", "-n", ns); err != nil || !strings.Contains(out, "No changes") {
		t.Fatalf("diff after promoting: %v\n%s", err, out)
	}

	// history: promotions and other commits that changed the environment.
	out, err = plugin("alice", "gitgate", "history", "test", "-n", ns)
	if err != nil || !strings.Contains(out, "Build "+direct+" for test") {
		t.Fatalf("history of test lacks the direct commit: %v\n%s", err, out)
	}
	out, err = plugin("alice", "gitgate", "history", "prod", "-n", ns)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) < 3 || !strings.Contains(lines[1], "to-roll-back") || !strings.Contains(lines[1], "bob") {
		t.Fatalf("history of prod does not start with to-roll-back by bob: %v\n%s", err, out)
	}
	previous := strings.Fields(lines[2])[0]
	oldTag := strings.TrimSpace(kubectl(t, "admin", "get", "promotion", "to-roll-back", "-n", ns, "-o", "jsonpath={.status.changes[0].from}"))

	// rollback to the commit before the promotion, by SHA: the old tag is back in Git.
	out, err = plugin("bob", "gitgate", "rollback", "prod", "--to", previous, "-n", ns)
	if err != nil || !strings.Contains(out, "promotion.gitgate.dev/prod-rollback-") {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	fleet.head()
	if overlay := fleet.git(fleet.dir, "show", "origin/main:overlays/prod/kustomization.yaml"); !strings.Contains(overlay, "newTag: "+oldTag) {
		t.Fatalf("after the rollback prod's overlay does not carry %s:\n%s", oldTag, overlay)
	}
	// and forward again, by promotion name.
	if out, err := plugin("bob", "gitgate", "rollback", "prod", "--to", "to-roll-back", "-n", ns); err != nil {
		t.Fatalf("rollback to a promotion: %v\n%s", err, out)
	}
	fleet.head()
	if overlay := fleet.git(fleet.dir, "show", "origin/main:overlays/prod/kustomization.yaml"); !strings.Contains(overlay, "newTag: "+direct) {
		t.Fatalf("rolling forward to to-roll-back does not restore %s:\n%s", direct, overlay)
	}
}

func TestCompletionAndDescribe(t *testing.T) {
	t.Parallel()
	ns := newFleet(t).ns
	// kubectl asks a plugin for completions with __complete; the word being
	// completed comes last.
	cmd := exec.Command(filepath.Join("..", "..", "bin", "kubectl-gitgate"), "__complete", "history",
		"--kubeconfig="+stack.Kubeconfig, "--context=alice", "-n", ns, "")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dev\nprod\ntest\n") {
		t.Fatalf("completion of environment names: %v\n%s", err, out)
	}
	describe := kubectl(t, "alice", "describe", "environment", "prod", "-n", ns)
	words := strings.Join(strings.Fields(describe), " ") // describe aligns values with spaces
	for _, s := range []string{"Promotes From: test", "Path: overlays/prod", "Type: Ready", "Image: registry.example.com/app:", "Upstream: Environment: test"} {
		if !strings.Contains(words, s) {
			t.Errorf("kubectl describe environment prod lacks %q:\n%s", s, describe)
		}
	}
}
