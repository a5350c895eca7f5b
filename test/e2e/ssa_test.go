package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ssaManifest is an Environment for kubectl apply --server-side -f -.
func ssaManifest(name, spec string) string {
	return "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: " + name + "\n  namespace: shop\nspec:\n" + spec
}

// apply runs kubectl apply --server-side as user with a field manager.
func apply(ctx context.Context, user, manager, manifest string, extra ...string) (string, error) {
	return stack.KubectlStdin(ctx, user, []byte(manifest),
		append([]string{"apply", "--server-side", "--field-manager=" + manager, "-f", "-"}, extra...)...)
}

// TestServerSideApplyCreatesAndOwnsEnvironments is how Flux and Argo CD
// write definitions: kubectl apply --server-side of a missing Environment
// creates it (with Create's checks: RBAC create, ownership of branch and
// path), applying it again makes no commit, a changed apply updates it,
// and field managers conflict as kube-apiserver's do, because the managed
// fields are kept in the definition file.
func TestServerSideApplyCreatesAndOwnsEnvironments(t *testing.T) {
	ctx := context.Background()
	fleet := cloneFleet(t)
	if err := os.MkdirAll(filepath.Join(fleet.dir, "overlays", "ssa"), 0o755); err != nil {
		t.Fatal(err)
	}
	fleet.commitFiles("Add the ssa overlay", map[string]string{
		"overlays/ssa/kustomization.yaml": "resources:\n- ../../base\nimages:\n- name: app\n  newName: registry.example.com/app\n  newTag: version-1.2.3\n",
	})
	t.Cleanup(func() {
		_, _ = stack.Kubectl(ctx, "admin", "delete", "environment", "ssa", "-n", "shop", "--ignore-not-found")
		fleet.commitFiles("Remove the ssa overlay", map[string]string{"overlays/ssa/kustomization.yaml": ""})
	})
	manifest := ssaManifest("ssa", "  path: overlays/ssa\n  promotesFrom: test\n")
	eventually(t, "gitgate reads overlays/ssa", 30*time.Second, func() string {
		if out, err := apply(ctx, "admin", "platform", manifest, "--dry-run=server"); err != nil {
			return out
		}
		return ""
	})
	if out, err := stack.Kubectl(ctx, "admin", "get", "environment", "ssa", "-n", "shop"); err == nil || !strings.Contains(out, "NotFound") {
		t.Fatalf("the dry run created ssa: %v %s", err, out)
	}

	// alice may patch definitions but not create them.
	kubectl(t, "admin", "create", "role", "ssa-patcher", "-n", "shop", "--verb=get,list,patch,update", "--resource=environments.gitgate.dev")
	kubectl(t, "admin", "create", "rolebinding", "ssa-patcher", "-n", "shop", "--role=ssa-patcher", "--user=alice")
	t.Cleanup(func() {
		_, _ = stack.Kubectl(ctx, "admin", "delete", "rolebinding,role", "ssa-patcher", "-n", "shop")
	})
	eventually(t, "alice may patch environments", 30*time.Second, func() string {
		if out, _ := stack.Kubectl(ctx, "alice", "auth", "can-i", "patch", "environments.gitgate.dev", "-n", "shop"); strings.TrimSpace(out) != "yes" {
			return out
		}
		return ""
	})

	refused := []struct {
		name     string
		user     string
		manifest string
		want     []string
	}{
		{name: "refused: alice applies a new environment without the create verb", user: "alice", manifest: manifest,
			want: []string{"Forbidden", `cannot create resource "environments"`}},
		{name: "refused: admin applies a new environment onto prod's path", user: "admin",
			manifest: ssaManifest("ssa", "  path: overlays/prod\n"),
			want:     []string{"Invalid", "overlaps environment prod"}},
		{name: "refused: admin applies a new environment with no path", user: "admin",
			manifest: ssaManifest("ssa", "  promotesFrom: test\n"),
			want:     []string{"is invalid", "spec.path: Required value"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before := readDefinitionState(t, fleet)
			out, err := apply(ctx, tc.user, "platform", tc.manifest)
			if err == nil {
				t.Fatalf("apply succeeded, want a refusal:\n%s", out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("refusal does not say %q:\n%s", want, out)
				}
			}
			if after := readDefinitionState(t, fleet); after != before {
				t.Fatalf("a refused apply changed Git or an Environment:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}

	// Apply creates: one commit, the managed fields in the definition file.
	head := fleet.head()
	if out, err := apply(ctx, "admin", "platform", manifest); err != nil || !strings.Contains(out, "serverside-applied") {
		t.Fatalf("apply of a new environment: %v\n%s", err, out)
	}
	created := fleet.head()
	if n := fleet.git(fleet.dir, "rev-list", "--count", head+".."+created); n != "1" {
		t.Fatalf("apply-create made %s commits, want 1", n)
	}
	file := fleet.git(fleet.dir, "show", created+":.gitgate/environments/ssa.yaml")
	for _, want := range []string{"promotesFrom: test", "manager: platform", "operation: Apply"} {
		if !strings.Contains(file, want) {
			t.Fatalf("ssa.yaml in Git does not hold %q:\n%s", want, file)
		}
	}
	managers := func() string {
		return kubectl(t, "admin", "get", "environment", "ssa", "-n", "shop", "--show-managed-fields",
			"-o", `jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}`)
	}
	if got := managers(); strings.TrimSpace(got) != "platform/Apply" {
		t.Fatalf("managers after apply-create: %q, want platform/Apply", got)
	}

	// Applying the same manifest again changes nothing, not even Git.
	rv := kubectl(t, "admin", "get", "environment", "ssa", "-n", "shop", "-o", "jsonpath={.metadata.resourceVersion}")
	if out, err := apply(ctx, "admin", "platform", manifest); err != nil {
		t.Fatalf("re-apply: %v\n%s", err, out)
	}
	if now := fleet.head(); now != created {
		t.Fatalf("re-applying the same manifest made a commit: main moved from %s to %s", created, now)
	}
	if now := kubectl(t, "admin", "get", "environment", "ssa", "-n", "shop", "-o", "jsonpath={.metadata.resourceVersion}"); now != rv {
		t.Fatalf("re-apply moved the resourceVersion from %s to %s", rv, now)
	}

	// A changed apply updates, in one commit.
	manifest = ssaManifest("ssa", "  path: overlays/ssa\n  promotesFrom: test\n  imageTagPattern: ^version-\n")
	if out, err := apply(ctx, "admin", "platform", manifest); err != nil {
		t.Fatalf("changed apply: %v\n%s", err, out)
	}
	updated := fleet.head()
	if n := fleet.git(fleet.dir, "rev-list", "--count", created+".."+updated); n != "1" {
		t.Fatalf("the changed apply made %s commits, want 1", n)
	}
	if got := kubectl(t, "admin", "get", "environment", "ssa", "-n", "shop", "-o", "jsonpath={.spec.imageTagPattern}"); got != "^version-" {
		t.Fatalf("imageTagPattern after the changed apply: %q", got)
	}

	// Another manager setting a field platform owns to another value
	// conflicts (409, nothing written) until it forces; then it owns it.
	other := ssaManifest("ssa", "  path: overlays/ssa\n  imageTagPattern: ^v[0-9]\n")
	before := readDefinitionState(t, fleet)
	out, err := apply(ctx, "admin", "flux", other)
	if err == nil || !strings.Contains(out, "conflict") || !strings.Contains(out, `"platform"`) || !strings.Contains(out, ".spec.imageTagPattern") {
		t.Fatalf("apply by another manager of a field platform owns: %v\n%s\nwant a conflict naming platform and .spec.imageTagPattern", err, out)
	}
	if after := readDefinitionState(t, fleet); after != before {
		t.Fatalf("a conflicting apply changed Git or an Environment:\nbefore %+v\nafter  %+v", before, after)
	}
	// The same value is shared ownership, not a conflict.
	if out, err := apply(ctx, "admin", "flux", ssaManifest("ssa", "  path: overlays/ssa\n  imageTagPattern: ^version-\n")); err != nil {
		t.Fatalf("apply by another manager of the same value: %v\n%s", err, out)
	}
	if out, err := apply(ctx, "admin", "flux", other, "--force-conflicts"); err != nil {
		t.Fatalf("forced apply: %v\n%s", err, out)
	}
	if got := kubectl(t, "admin", "get", "environment", "ssa", "-n", "shop", "-o", "jsonpath={.spec.imageTagPattern}"); got != "^v[0-9]" {
		t.Fatalf("imageTagPattern after the forced apply: %q", got)
	}
	// platform lost the field: its next apply without it leaves flux's value.
	if out, err := apply(ctx, "admin", "platform", ssaManifest("ssa", "  path: overlays/ssa\n  promotesFrom: test\n")); err != nil {
		t.Fatalf("platform applies without imageTagPattern: %v\n%s", err, out)
	}
	if got := kubectl(t, "admin", "get", "environment", "ssa", "-n", "shop", "-o", "jsonpath={.spec.imageTagPattern}"); got != "^v[0-9]" {
		t.Fatalf("imageTagPattern after platform dropped it: %q, want flux's ^v[0-9]", got)
	}
	if got := managers(); !strings.Contains(got, "flux/Apply") || !strings.Contains(got, "platform/Apply") {
		t.Fatalf("managers: %q, want flux and platform", got)
	}
}

// TestConcurrentServerSideApplyCreatesOnce: two clients apply the same new
// Environment at once (two controllers reconciling one manifest). Exactly
// one create wins; the other gets 409 AlreadyExists, or, when it arrives
// after the create is visible, is the no-op that re-applying the same
// manifest with the same field manager is. Either way Git has exactly one
// commit, adding the definition. Rounds repeat, each with an environment
// of its own, until the two applies have raced at least once.
func TestConcurrentServerSideApplyCreatesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fleet := newFleet(t)
	const rounds = 5
	files := map[string]string{}
	for i := range rounds {
		dir := fmt.Sprintf("overlays/race-%d", i)
		if err := os.MkdirAll(filepath.Join(fleet.dir, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		files[dir+"/kustomization.yaml"] = "resources:\n- ../../base\n"
	}
	fleet.commitFiles("Add the race overlays", files)
	manifest := func(i int) string {
		return envManifest(fleet.ns, fmt.Sprintf("race-%d", i), fmt.Sprintf("{path: overlays/race-%d, promotesFrom: test}", i))
	}
	eventually(t, "gitgate reads the race overlays", 60*time.Second, func() string {
		if out, err := apply(ctx, "admin", "platform", manifest(rounds-1), "--dry-run=server"); err != nil {
			return out
		}
		return ""
	})

	raced := 0
	for i := 0; i < rounds && raced == 0; i++ {
		before := fleet.head()
		var outs [2]string
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for c := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				outs[c], errs[c] = apply(ctx, "admin", "platform", manifest(i))
			}()
		}
		close(start)
		wg.Wait()

		after := fleet.head()
		if n := fleet.git(fleet.dir, "rev-list", "--count", before+".."+after); n != "1" {
			t.Fatalf("round %d: two applies of race-%d made %s commits, want exactly 1\n%s\n%s", i, i, n, outs[0], outs[1])
		}
		if changed := fleet.git(fleet.dir, "diff", "--name-only", before, after); changed != fmt.Sprintf(".gitgate/environments/race-%d.yaml", i) {
			t.Fatalf("round %d: the commit changed %q, want race-%d's definition alone", i, changed, i)
		}
		kubectl(t, "admin", "get", "environment", fmt.Sprintf("race-%d", i), "-n", fleet.ns)
		failed := 0
		for c, err := range errs {
			if err == nil {
				continue
			}
			failed++
			if !strings.Contains(outs[c], "AlreadyExists") && !strings.Contains(outs[c], "already exists") && !strings.Contains(outs[c], "Conflict") {
				t.Fatalf("round %d: the losing apply says %q, want a 409 (AlreadyExists or a conflict)", i, outs[c])
			}
			t.Logf("round %d: the losing apply: %s", i, strings.TrimSpace(outs[c]))
		}
		switch failed {
		case 0:
			t.Logf("round %d: both applies succeeded (the second came after the create, a no-op): no race", i)
		case 1:
			raced++
		default:
			t.Fatalf("round %d: both applies failed:\n%s\n%s", i, outs[0], outs[1])
		}
	}
	if raced == 0 {
		t.Fatalf("in %d rounds the two applies never raced; nothing was shown", rounds)
	}
}
