package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// envManifest is an Environment in namespace ns, for kubectl create -f -.
func envManifest(ns, name, spec string) string {
	return "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec: " + spec + "\n"
}

// definitionState is what a refused request must leave as it was: every
// ref of the fleet on its Git server (branches and review branches alike),
// and every Environment of its namespace as the API serves it (name and spec).
type definitionState struct {
	refs, envs string
}

func readDefinitionState(t *testing.T, fleet *fleetClone) definitionState {
	t.Helper()
	return definitionState{
		refs: fleet.git(fleet.dir, "ls-remote", "origin"),
		envs: kubectl(t, "admin", "get", "environments", "-n", fleet.ns, "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec}{"\n"}{end}`),
	}
}

// TestBypassEnvironmentRoutesAreRefused is issue 13's routes 1 and 7
// against the real stack: each way of redirecting or weakening an
// environment through its definition, or of slipping an image past prod's
// rules, tried as alice (developer), bob (release manager, promote on
// prod) and admin. Each is refused with a message naming what is in the
// way, and neither Git nor any Environment changes.
func TestBypassEnvironmentRoutesAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fleet := newFleet(t)
	ns := fleet.ns

	// The example RBAC gives definition edits to the platform team only.
	before := readDefinitionState(t, fleet)
	out := kubectlFails(t, "alice", "", "patch", "environment", "dev", "-n", ns, "--type=merge", "-p", `{"spec":{"path":"overlays/prod"}}`)
	if !strings.Contains(out, "Forbidden") || !strings.Contains(out, `cannot patch resource "environments"`) {
		t.Fatalf("alice without definition rights patching dev: %s, want a 403 from RBAC", out)
	}
	if after := readDefinitionState(t, fleet); after != before {
		t.Fatalf("a refused patch changed Git or an Environment:\nbefore %+v\nafter  %+v", before, after)
	}

	// From here alice and bob hold the platform role (update on every
	// definition, promote on dev and test): the insider issue 13 describes.
	kubectl(t, "admin", "create", "rolebinding", "bypass-environment-editors", "-n", ns,
		"--role", "gitgate-environment-editor", "--user", "alice", "--user", "bob")
	t.Cleanup(func() {
		_, _ = stack.Kubectl(ctx, "admin", "delete", "rolebinding", "bypass-environment-editors", "-n", ns)
	})
	eventually(t, "alice may edit definitions", 30*time.Second, func() string {
		out, err := stack.Kubectl(ctx, "alice", "patch", "environment", "dev", "-n", ns, "--dry-run=server",
			"--type=merge", "-p", `{"metadata":{"labels":{"probe":"rbac"}}}`)
		if err != nil {
			return out
		}
		return ""
	})

	testOverlay := fleet.git(fleet.dir, "show", "origin/main:overlays/test/kustomization.yaml") + "\n"
	t.Cleanup(func() { // the image cases push builds into test's overlay
		fleet.git(fleet.dir, "fetch", "-q", "origin")
		if fleet.git(fleet.dir, "show", "origin/main:overlays/test/kustomization.yaml")+"\n" != testOverlay {
			fleet.commitFiles("Restore the test overlay", map[string]string{"overlays/test/kustomization.yaml": testOverlay})
		}
	})

	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		name  string
		user  string
		setup string // a test overlay images: entry to push straight to Git first
		stdin string
		args  []string
		want  []string // what the refusal says
	}{
		{name: "refused: alice moves dev onto prod's path", user: "alice",
			args: []string{"patch", "environment", "dev", "--type=merge", "-p", `{"spec":{"path":"overlays/prod"}}`},
			want: []string{"Invalid", `spec.path: Invalid value: "overlays/prod": is immutable (was "overlays/dev")`, "delete the environment and create it again"}},
		{name: "refused: alice moves dev onto a review branch", user: "alice",
			args: []string{"patch", "environment", "dev", "--type=merge", "-p", `{"spec":{"branch":"gitgate/promotions/prod-1"}}`},
			want: []string{"Invalid", "spec.branch", "reserves for review branches"}},
		{name: "refused: bob moves prod onto another branch", user: "bob",
			args: []string{"patch", "environment", "prod", "--type=merge", "-p", `{"spec":{"branch":"release"}}`},
			want: []string{"Invalid", `spec.branch: Invalid value: "release": is immutable (was "main")`}},
		{name: "refused: alice creates an environment on prod's path", user: "alice",
			stdin: envManifest(ns, "sneak", "{path: overlays/prod}"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "environment sneak (branch main, path overlays/prod) overlaps environment prod (branch main, path overlays/prod)"}},
		{name: "refused: alice nests an environment inside prod's path", user: "alice",
			stdin: envManifest(ns, "sneak", "{path: overlays/prod/extra}"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "overlaps environment prod", "no two environments share or nest them"}},
		{name: "refused: alice creates an environment around every overlay", user: "alice",
			stdin: envManifest(ns, "sneak", "{path: overlays}"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "overlaps environment dev"}},
		{name: "refused: alice creates an environment on the base prod builds from", user: "alice",
			stdin: envManifest(ns, "sneak", "{path: base}"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "environment prod builds its overlay overlays/prod from base"}},
		{name: "refused: admin creates an environment on the repository root", user: "admin",
			stdin: envManifest(ns, "sneak", "{path: .}"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "spec.path", "must not be the repository root"}},
		{name: "refused: admin creates an environment over the definitions", user: "admin",
			stdin: envManifest(ns, "sneak", "{path: .gitgate/environments}"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "spec.path", "gitgate's environment definitions"}},
		{name: "refused: admin creates a Merge environment on prod's branch", user: "admin",
			stdin: envManifest(ns, "sneak", "{path: deploy, strategy: Merge}"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "spec.strategy", "strategy Merge: the whole branch main"}},
		{name: "refused: alice points dev at prod's Kustomization, namespace left to its default", user: "alice",
			args: []string{"patch", "environment", "dev", "--type=merge", "-p", `{"spec":{"fluxKustomization":{"namespace":null,"name":"` + ns + `-apps-prod"}}}`},
			want: []string{"Invalid", "Flux Kustomization flux-system/" + ns + "-apps-prod is claimed by environment prod already"}},
		{name: "refused: alice removes prod's imageTagPattern", user: "alice",
			args: []string{"patch", "environment", "prod", "--type=merge", "-p", `{"spec":{"imageTagPattern":null}}`},
			want: []string{"Forbidden", `user "alice" cannot weaken the protections (spec.imageTagPattern) of environment "prod"`, `it needs the verb "promote"`}},
		{name: "refused: alice loosens prod's imageTagPattern", user: "alice",
			args: []string{"patch", "environment", "prod", "--type=merge", "-p", `{"spec":{"imageTagPattern":".*"}}`},
			want: []string{"Forbidden", "(spec.imageTagPattern)"}},
		{name: "refused: alice makes prod promote from dev", user: "alice",
			args: []string{"patch", "environment", "prod", "--type=merge", "-p", `{"spec":{"promotesFrom":"dev"}}`},
			want: []string{"Forbidden", "(spec.promotesFrom)"}},
		{name: "refused: alice switches prod to the Merge strategy", user: "alice",
			args: []string{"patch", "environment", "prod", "--type=merge", "-p", `{"spec":{"strategy":"Merge"}}`},
			want: []string{"Forbidden", "(spec.strategy)"}},
		{name: "refused: alice releases prod's Kustomization", user: "alice",
			args: []string{"patch", "environment", "prod", "--type=merge", "-p", `{"spec":{"fluxKustomization":null}}`},
			want: []string{"Forbidden", "(spec.fluxKustomization)"}},
		{name: "refused: alice deletes prod", user: "alice",
			args: []string{"delete", "environment", "prod"},
			want: []string{"Forbidden", `user "alice" cannot delete environment "prod"`, `it needs the verb "promote"`}},
		{name: "refused: bob promotes a matching tag from another registry into prod", user: "bob",
			setup: "- name: app\n  newName: evil.example.com/app\n  newTag: version-9.9.9\n",
			stdin: promotionYAML("bypass-registry", "prod", "test"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", `would change the image's name from "registry.example.com/app" to "evil.example.com/app"`}},
		{name: "refused: bob promotes a digest without a tag into prod", user: "bob",
			setup: "- name: app\n  newName: registry.example.com/app\n  digest: " + digest + "\n",
			stdin: promotionYAML("bypass-digest", "prod", "test"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "comes without a tag: prod's imageTagPattern"}},
		{name: "refused: admin promotes a digest beside an unmatched tag into prod", user: "admin",
			setup: "- name: app\n  newName: registry.example.com/app\n  newTag: latest\n  digest: " + digest + "\n",
			stdin: promotionYAML("bypass-digest-tag", "prod", "test"), args: []string{"create", "-f", "-"},
			want: []string{"Invalid", "tag must match prod's imageTagPattern"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != "" {
				sha := fleet.commitFiles("Build for test", map[string]string{"overlays/test/kustomization.yaml": testOverlayWith(tc.setup)})
				eventually(t, "gitgate reads the test overlay", 30*time.Second, func() string {
					out, _ := stack.Kubectl(ctx, "admin", "get", "environment", "test", "-n", ns, "-o", "jsonpath={.status.revision}")
					if strings.TrimSpace(out) != sha {
						return "test is at " + out + ", want " + sha
					}
					return ""
				})
			}
			before := readDefinitionState(t, fleet)
			out := kubectlFails(t, tc.user, tc.stdin, append(tc.args, "-n", ns)...)
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("refusal does not say %q:\n%s", want, out)
				}
			}
			if after := readDefinitionState(t, fleet); after != before {
				t.Fatalf("a refused request changed Git or an Environment:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}

	// Tightening needs update only; weakening prod needs promote on prod.
	prodBefore := kubectl(t, "admin", "get", "environment", "prod", "-n", ns, "-o", "jsonpath={.spec}")
	kubectl(t, "alice", "patch", "environment", "prod", "-n", ns, "--type=merge", "-p", `{"spec":{"review":true}}`)
	if file := fleet.git(fleet.dir, "show", fleet.head()+":.gitgate/environments/prod.yaml"); !strings.Contains(file, "review: true") {
		t.Fatalf("alice's tightening is not in Git:\n%s", file)
	}
	weaken := []string{"patch", "environment", "prod", "-n", ns, "--type=merge", "-p", `{"spec":{"review":false}}`}
	head := fleet.head()
	if out := kubectlFails(t, "alice", "", weaken...); !strings.Contains(out, "(spec.review)") {
		t.Fatalf("alice switching prod's review off: %s, want a 403 naming spec.review", out)
	}
	if fleet.head() != head {
		t.Fatal("alice's refused weakening moved main")
	}
	kubectl(t, "bob", weaken...)
	if after := kubectl(t, "admin", "get", "environment", "prod", "-n", ns, "-o", "jsonpath={.spec}"); after != prodBefore {
		t.Fatalf("prod after bob switched review off again:\n%s\nwant\n%s", after, prodBefore)
	}
}

// testOverlayWith is the test overlay with one images: entry.
func testOverlayWith(images string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-test\nresources:\n- ../../base\nimages:\n" + images
}
