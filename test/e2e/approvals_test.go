package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Impersonated release managers (group shop-release-managers, like bob):
// the admin context may impersonate.
var (
	asCarol = []string{"--as=carol", "--as-group=shop-release-managers"}
	asDave  = []string{"--as=dave", "--as-group=shop-release-managers"}
)

// requireApprovals makes prod of the fleet require n approvals, as a
// commit to its definition, and waits until gitgate reads it.
func (c *fleetClone) requireApprovals(n string) {
	c.t.Helper()
	c.git(c.dir, "fetch", "-q", "origin")
	def := c.git(c.dir, "show", "origin/main:.gitgate/environments/prod.yaml")
	c.commitFiles("prod requires approvals", map[string]string{".gitgate/environments/prod.yaml": def + "\n  approvals: {required: " + n + "}\n"})
	eventually(c.t, "prod requires "+n+" approvals", 30*time.Second, func() string {
		out, _ := stack.Kubectl(context.Background(), "admin", "get", "environment", "prod", "-n", c.ns, "-o", "jsonpath={.spec.approvals.required}")
		if strings.TrimSpace(out) != n {
			return "required is " + out
		}
		return ""
	})
}

// lsRemote lists every ref of the fleet's repository.
func (c *fleetClone) lsRemote() string {
	c.t.Helper()
	return c.git(c.dir, "ls-remote", "origin")
}

func approve(user string, as []string, args ...string) (string, error) {
	return plugin(user, append(append([]string{"gitgate"}, args...), as...)...)
}

func TestApprovalsTwoOfThreeLandThePromotion(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	fleet.requireApprovals("2")
	tag := fleet.setTag("test", "version-7.")
	mainBefore := fleet.head()

	// bob proposes: the commit waits on its review branch, main stays.
	createPromotion(t, "bob", promotionYAML("prod-approved", "prod", ""), "-n", ns)
	review := "gitgate/promotions/prod-approved"
	if got := fleet.head(); got != mainBefore {
		t.Fatalf("main moved to %s on a proposal", got)
	}
	status := kubectl(t, "alice", "get", "promotion", "prod-approved", "-n", ns, "-o", "jsonpath={.status.phase} {.status.branch} {.status.approvalsRequired}")
	if status != "Proposed "+review+" 2" {
		t.Fatalf("promotion status = %q, want Proposed on %s needing 2", status, review)
	}
	if list := kubectl(t, "alice", "get", "promotions", "-n", ns); !strings.Contains(list, "APPROVALS") || !strings.Contains(list, " 0/2 ") {
		t.Errorf("kubectl get promotions does not show APPROVALS 0/2:\n%s", list)
	}

	// The author cannot approve: 403, nothing written.
	refs := fleet.lsRemote()
	out, err := approve("bob", nil, "approve", "prod-approved", "-n", ns)
	if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, `"bob" created promotion "prod-approved" and cannot approve it`) {
		t.Fatalf("self-approval: err %v, want 403 naming the author:\n%s", err, out)
	}
	if fleet.lsRemote() != refs {
		t.Fatal("a refused self-approval changed Git")
	}

	// carol approves, then again: the second writes nothing.
	if out, err := approve("admin", asCarol, "approve", "prod-approved", "-n", ns, "-m", "release notes checked"); err != nil || !strings.Contains(out, "1/2 approvals") {
		t.Fatalf("carol's approval: %v\n%s", err, out)
	}
	refs = fleet.lsRemote()
	if out, err := approve("admin", asCarol, "approve", "prod-approved", "-n", ns); err != nil || !strings.Contains(out, "nothing was written") {
		t.Fatalf("carol's second approval: %v\n%s", err, out)
	}
	if fleet.lsRemote() != refs {
		t.Fatal("a duplicate approval changed Git")
	}
	fleet.git(fleet.dir, "fetch", "-q", "origin")
	if msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", "origin/"+review); !strings.Contains(msg, "Approved-By: carol") || !strings.Contains(msg, "release notes checked") {
		t.Errorf("the approval commit lacks its trailer or message:\n%s", msg)
	}
	if list := kubectl(t, "alice", "get", "promotions", "-n", ns); !strings.Contains(list, " 1/2 ") {
		t.Errorf("kubectl get promotions does not show 1/2:\n%s", list)
	}

	// Someone moves prod's app tag in Git: dave's approval completes the
	// quorum, but the plan changed, so it is planned again and waits.
	moved := fleet.pushTag("prod", "version-6.")
	out, err = approve("admin", asDave, "approve", "prod-approved", "-n", ns)
	if err != nil || !strings.Contains(out, "planned again") || !strings.Contains(out, "0/2 approvals") {
		t.Fatalf("dave's approval after the branch moved: %v\n%s, want planned again with 0/2", err, out)
	}
	if got := fleet.head(); got == mainBefore || !strings.Contains(fleet.git(fleet.dir, "show", got+":overlays/prod/kustomization.yaml"), "newTag: "+moved) {
		t.Fatalf("main %s does not hold the pushed tag %s: a changed plan must not land", got, moved)
	}
	cond := kubectl(t, "alice", "get", "promotion", "prod-approved", "-n", ns, "-o", `jsonpath={.status.phase} {.status.conditions[?(@.type=="Approved")].reason}: {.status.conditions[?(@.type=="Approved")].message}`)
	if !strings.HasPrefix(cond, "Proposed Replanned: planned again") || !strings.Contains(cond, moved) {
		t.Fatalf("after the re-plan the promotion says %q, want Proposed, Replanned naming %s", cond, moved)
	}

	// carol and dave approve the new plan: it lands on main.
	if out, err := approve("admin", asCarol, "approve", "prod-approved", "-n", ns); err != nil {
		t.Fatalf("carol's approval of the new plan: %v\n%s", err, out)
	}
	out, err = approve("admin", asDave, "approve", "prod-approved", "-n", ns)
	if err != nil || !strings.Contains(out, "landed as") || !strings.Contains(out, "Succeeded") {
		t.Fatalf("the quorum did not land: %v\n%s", err, out)
	}
	head := fleet.head()
	if !strings.Contains(fleet.git(fleet.dir, "show", head+":overlays/prod/kustomization.yaml"), "newTag: "+tag) {
		t.Errorf("main %s does not carry %s", head, tag)
	}
	msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", head)
	for _, line := range []string{"Gitgate-Promotion: prod-approved", "Promoted-By: bob", "Approved-By: carol", "Approved-By: dave", "Gitgate-Change: app " + moved + " -> " + tag} {
		if !strings.Contains(msg, line) {
			t.Errorf("the landing commit lacks %q:\n%s", line, msg)
		}
	}
	status = kubectl(t, "alice", "get", "promotion", "prod-approved", "-n", ns, "-o", "jsonpath={.status.phase} {.status.commit} {.status.approvals[*].by}")
	if status != "Succeeded "+head+" carol dave" {
		t.Errorf("promotion = %q, want Succeeded at %s approved by carol dave", status, head)
	}
}

func TestApprovalsRefusedWithoutTheVerbOrAcrossNamespaces(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	fleet.requireApprovals("1")
	fleet.setTag("test", "version-8.")
	createPromotion(t, "bob", promotionYAML("prod-guarded", "prod", ""), "-n", ns)
	other := newFleet(t)

	refs, otherRefs := fleet.lsRemote(), other.lsRemote()
	before := kubectl(t, "admin", "get", "promotion", "prod-guarded", "-n", ns, "-o", "yaml")
	cases := []struct {
		name string
		user string
		as   []string
		args []string
		want string
	}{
		{"denied: alice approves into prod without the approve verb", "alice", nil, []string{"approve", "prod-guarded", "-n", ns},
			`cannot approve promotions into environment "prod"`},
		{"denied: alice rejects into prod without the approve verb", "alice", nil, []string{"reject", "prod-guarded", "-n", ns},
			`needs the verb "approve"`},
		{"denied: a user of another team approves", "admin", []string{"--as=mallory", "--as-group=other-team"}, []string{"approve", "prod-guarded", "-n", ns},
			"Forbidden"},
		{"not found: bob approves the promotion through another namespace", "bob", nil, []string{"approve", "prod-guarded", "-n", other.ns},
			"NotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := approve(tc.user, tc.as, tc.args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("err %v, want a refusal containing %q:\n%s", err, tc.want, out)
			}
			if fleet.lsRemote() != refs || other.lsRemote() != otherRefs {
				t.Fatal("a refused approval changed Git")
			}
			if after := kubectl(t, "admin", "get", "promotion", "prod-guarded", "-n", ns, "-o", "yaml"); stripVolatile(after) != stripVolatile(before) {
				t.Fatalf("a refused approval changed the Promotion:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// stripVolatile drops the resourceVersion, which moves with any commit of
// the repository (the second fleet's, for one).
func stripVolatile(yaml string) string {
	var keep []string
	for _, line := range strings.Split(yaml, "\n") {
		if !strings.Contains(line, "resourceVersion:") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func TestApprovalsWeakeningNeedsPromote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fleet := newFleet(t)
	ns := fleet.ns
	fleet.requireApprovals("2")
	// alice and bob may edit definitions; only bob may promote into prod.
	kubectl(t, "admin", "create", "rolebinding", "approvals-environment-editors", "-n", ns,
		"--role", "gitgate-environment-editor", "--user", "alice", "--user", "bob")
	t.Cleanup(func() {
		_, _ = stack.Kubectl(ctx, "admin", "delete", "rolebinding", "approvals-environment-editors", "-n", ns)
	})
	eventually(t, "alice may patch environments", 30*time.Second, func() string {
		if out, err := stack.Kubectl(ctx, "alice", "patch", "environment", "dev", "-n", ns, "--dry-run=server",
			"--type=merge", "-p", `{"metadata":{"labels":{"probe":"rbac"}}}`); err != nil {
			return out
		}
		return ""
	})

	cases := []struct {
		name  string
		user  string
		patch string
		want  []string
	}{
		{"refused: alice lowers prod's approvals", "alice", `{"spec":{"approvals":{"required":1}}}`,
			[]string{"Forbidden", `user "alice" cannot weaken the protections (spec.approvals) of environment "prod"`, `it needs the verb "promote"`}},
		{"refused: alice removes prod's approvals", "alice", `{"spec":{"approvals":null}}`,
			[]string{"Forbidden", "(spec.approvals)"}},
		{"refused: bob asks for no approvals at all", "bob", `{"spec":{"approvals":{"required":0}}}`,
			[]string{"Invalid", "spec.approvals.required: Invalid value: 0: must be between 1 and 100"}},
		{"refused: bob asks for an absurd quorum", "bob", `{"spec":{"approvals":{"required":100000}}}`,
			[]string{"Invalid", "spec.approvals.required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refs := fleet.lsRemote()
			out := kubectlFails(t, tc.user, "", "patch", "environment", "prod", "-n", ns, "--type=merge", "-p", tc.patch)
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("refusal does not say %q:\n%s", want, out)
				}
			}
			if fleet.lsRemote() != refs {
				t.Fatal("a refused patch changed Git")
			}
			if got := kubectl(t, "admin", "get", "environment", "prod", "-n", ns, "-o", "jsonpath={.spec.approvals.required}"); got != "2" {
				t.Fatalf("prod requires %q approvals after a refused patch, want 2", got)
			}
		})
	}

	// Tightening needs update only; bob, with promote on prod, may lower it.
	kubectl(t, "alice", "patch", "environment", "prod", "-n", ns, "--type=merge", "-p", `{"spec":{"approvals":{"required":3}}}`)
	kubectl(t, "bob", "patch", "environment", "prod", "-n", ns, "--type=merge", "-p", `{"spec":{"approvals":{"required":1}}}`)
	if file := fleet.git(fleet.dir, "show", fleet.head()+":.gitgate/environments/prod.yaml"); !strings.Contains(file, "required: 1") {
		t.Fatalf("bob's change is not in Git:\n%s", file)
	}
}
