package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// openWindow is a daily freeze window in Europe/Berlin that opened two
// minutes ago and lasts an hour: the environment is frozen now, by a window.
func openWindow(t *testing.T) (start string, until time.Time) {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Now().In(berlin).Add(-2 * time.Minute).Truncate(time.Minute)
	return fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour()), opened.Add(time.Hour)
}

// TestFreezeWindowRefusesPromotionsUntilABreakglassHolderOverrides: a
// window open now refuses a promotion into test, naming the window and its
// end, with Git unchanged; alice (promote on test, no breakglass) cannot
// override it; bob (breakglass) can, and his reason and name are in the
// commit's trailers.
func TestFreezeWindowRefusesPromotionsUntilABreakglassHolderOverrides(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	start, until := openWindow(t)

	// Bad windows are refused with field paths, and change nothing.
	before := readDefinitionState(t, fleet)
	for _, tc := range []struct{ window, want string }{
		{`{"start":"0 18 * *","duration":"62h"}`, "spec.freeze.windows[0].start: Invalid value"},
		{`{"start":"0 18 * * FRI","duration":"-1h"}`, "spec.freeze.windows[0].duration: Invalid value"},
		{`{"start":"0 18 * * FRI","duration":"62h","timeZone":"Europe/Atlantis"}`, "spec.freeze.windows[0].timeZone: Invalid value"},
	} {
		out := kubectlFails(t, "admin", "", "patch", "environment", "test", "-n", ns, "--type=merge",
			"-p", `{"spec":{"freeze":{"windows":[`+tc.window+`]}}}`)
		if !strings.Contains(out, "is invalid") || !strings.Contains(out, tc.want) {
			t.Fatalf("window %s: %s, want a 422 naming %s", tc.window, out, tc.want)
		}
	}
	if after := readDefinitionState(t, fleet); after != before {
		t.Fatalf("a refused window changed Git or an Environment:\nbefore %+v\nafter  %+v", before, after)
	}

	// A window that is open now.
	kubectl(t, "admin", "patch", "environment", "test", "-n", ns, "--type=merge",
		"-p", `{"spec":{"freeze":{"windows":[{"start":"`+start+`","duration":"1h","timeZone":"Europe/Berlin"}]}}}`)
	status := kubectl(t, "admin", "get", "environment", "test", "-n", ns, "-o",
		`jsonpath={.status.freeze.frozen} {.status.conditions[?(@.type=="Frozen")].status} {.status.conditions[?(@.type=="Frozen")].reason} {.status.freeze.until}`)
	if want := "true True FreezeWindow " + until.UTC().Format(time.RFC3339); status != want {
		t.Fatalf("test's freeze status = %q, want %q", status, want)
	}

	// alice's promotion is refused (409), naming the window and its end.
	refs := fleet.git(fleet.dir, "ls-remote", "origin")
	out, err := stack.KubectlPlugin(context.Background(), "alice", "create", "promotion", "--to", "test", "-n", ns)
	if err == nil || !strings.Contains(out, "Conflict") ||
		!strings.Contains(out, `frozen by window "`+start+`" for 1h in Europe/Berlin until `+until.Format(time.RFC3339)) {
		t.Fatalf("a promotion into a frozen test: %v\n%s\nwant a 409 naming the window and its end", err, out)
	}
	if after := fleet.git(fleet.dir, "ls-remote", "origin"); after != refs {
		t.Fatalf("a refused promotion changed Git:\nbefore %s\nafter  %s", refs, after)
	}

	// alice cannot override: she holds promote on test, not breakglass.
	out, err = stack.KubectlPlugin(context.Background(), "alice", "create", "promotion", "--to", "test", "-n", ns, "--override-freeze=just this once")
	if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, `needs the verb "breakglass"`) {
		t.Fatalf("alice overriding the freeze: %v\n%s\nwant a 403 naming the verb breakglass", err, out)
	}
	if after := fleet.git(fleet.dir, "ls-remote", "origin"); after != refs {
		t.Fatalf("a refused override changed Git:\nbefore %s\nafter  %s", refs, after)
	}

	// bob can, and the commit says who and why.
	out, err = stack.KubectlPlugin(context.Background(), "bob", "create", "promotion", "--to", "test", "-n", ns,
		"--override-freeze=hotfix for incident 42", "-o", "jsonpath={.status.commit}")
	if err != nil {
		t.Fatalf("bob overriding the freeze: %v\n%s", err, out)
	}
	commit := strings.TrimSpace(out)
	if head := fleet.head(); head != commit {
		t.Fatalf("main is at %s, the promotion says %s", head, commit)
	}
	msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", commit)
	for _, want := range []string{"Gitgate-Freeze-Override: hotfix for incident 42", "Gitgate-Freeze-Override-By: bob",
		`Gitgate-Freeze: frozen by window "` + start + `"`, "Promoted-By: bob"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the override's commit lacks %q:\n%s", want, msg)
		}
	}
}

// TestFreezeSwitchNeedsTheFreezeVerb: alice (no verb freeze) can neither
// freeze nor unfreeze; bob freezes prod, which refuses his own promotion
// with the reason, and unfreezes it. Unfreezing by editing the definition
// is a weakening: it needs promote on prod besides update.
func TestFreezeSwitchNeedsTheFreezeVerb(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fleet := newFleet(t)
	ns := fleet.ns

	before := readDefinitionState(t, fleet)
	out, err := stack.KubectlPlugin(ctx, "alice", "gitgate", "freeze", "prod", "-n", ns, "--reason", "I say so")
	if err == nil || !strings.Contains(out, "Forbidden") {
		t.Fatalf("alice freezing prod: %v\n%s\nwant a 403", err, out)
	}
	if after := readDefinitionState(t, fleet); after != before {
		t.Fatalf("a refused freeze changed Git or an Environment:\nbefore %+v\nafter  %+v", before, after)
	}

	out, err = stack.KubectlPlugin(ctx, "bob", "gitgate", "freeze", "prod", "-n", ns, "--reason", "incident 42: hold releases")
	if err != nil || !strings.Contains(out, "environment.gitgate.dev/prod frozen (commit ") {
		t.Fatalf("bob freezing prod: %v\n%s", err, out)
	}
	msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", fleet.head())
	for _, want := range []string{"Freeze environment prod", "Gitgate-Freeze-Reason: incident 42: hold releases", "Gitgate-Changed-By: bob"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the freeze commit lacks %q:\n%s", want, msg)
		}
	}
	if got := kubectl(t, "bob", "get", "environment", "prod", "-n", ns, "-o",
		`jsonpath={.status.conditions[?(@.type=="Frozen")].reason}`); got != "FrozenBySwitch" {
		t.Fatalf("prod's Frozen condition reason = %q, want FrozenBySwitch", got)
	}

	// A promotion into prod is refused, naming the switch and its reason.
	refs := fleet.git(fleet.dir, "ls-remote", "origin")
	out, err = stack.KubectlPlugin(ctx, "bob", "gitgate", "rollback", "prod", "--to", fleet.head()[:7], "-n", ns)
	if err == nil || !strings.Contains(out, `frozen by its switch (reason: "incident 42: hold releases")`) {
		t.Fatalf("a rollback of a frozen prod: %v\n%s\nwant a refusal naming the switch", err, out)
	}
	if after := fleet.git(fleet.dir, "ls-remote", "origin"); after != refs {
		t.Fatalf("a refused rollback changed Git:\nbefore %s\nafter  %s", refs, after)
	}

	// alice cannot unfreeze through the subresource, nor, holding the
	// platform role (update, promote on dev and test only), by editing it.
	before = readDefinitionState(t, fleet)
	if out, err := stack.KubectlPlugin(ctx, "alice", "gitgate", "unfreeze", "prod", "-n", ns); err == nil || !strings.Contains(out, "Forbidden") {
		t.Fatalf("alice unfreezing prod: %v\n%s\nwant a 403", err, out)
	}
	kubectl(t, "admin", "create", "rolebinding", "freeze-editors", "-n", ns, "--role", "gitgate-environment-editor", "--user", "alice")
	eventually(t, "alice may edit definitions", 30*time.Second, func() string {
		out, err := stack.Kubectl(ctx, "alice", "auth", "can-i", "update", "environments.gitgate.dev", "-n", ns)
		if err != nil || strings.TrimSpace(out) != "yes" {
			return out
		}
		return ""
	})
	out = kubectlFails(t, "alice", "", "patch", "environment", "prod", "-n", ns, "--type=merge", "-p", `{"spec":{"freeze":{"frozen":false}}}`)
	if !strings.Contains(out, "Forbidden") || !strings.Contains(out, "spec.freeze.frozen") {
		t.Fatalf("alice unfreezing prod by an edit: %s, want a 403 naming spec.freeze.frozen", out)
	}
	if after := readDefinitionState(t, fleet); after != before {
		t.Fatalf("a refused unfreeze changed Git or an Environment:\nbefore %+v\nafter  %+v", before, after)
	}

	// Even with promote on prod, weakening or deleting a frozen prod
	// needs the verb freeze, as the unfreeze subresource does.
	kubectl(t, "admin", "create", "role", "prod-promoter", "-n", ns, "--verb", "promote",
		"--resource", "environments.gitgate.dev", "--resource-name", "prod")
	kubectl(t, "admin", "create", "rolebinding", "prod-promoters", "-n", ns, "--role", "prod-promoter", "--user", "alice")
	eventually(t, "gitgate sees alice's promote on prod (its authorizer caches the last denial)", 60*time.Second, func() string {
		out, _ := stack.Kubectl(ctx, "alice", "patch", "environment", "prod", "-n", ns, "--dry-run=server",
			"--type=merge", "-p", `{"spec":{"freeze":{"frozen":false}}}`)
		if strings.Contains(out, `verb "promote"`) {
			return out
		}
		return ""
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"denied: alice with promote on prod switches its freeze off by a merge patch",
			[]string{"patch", "environment", "prod", "--type=merge", "-p", `{"spec":{"freeze":{"frozen":false}}}`},
			`user "alice" cannot weaken the freeze of environment "prod"`},
		{"denied: alice with promote on prod removes its freeze by a JSON patch",
			[]string{"patch", "environment", "prod", "--type=json", "-p", `[{"op":"remove","path":"/spec/freeze"}]`},
			`user "alice" cannot weaken the freeze of environment "prod"`},
		{"denied: alice with promote on prod deletes it while frozen",
			[]string{"delete", "environment", "prod"},
			`user "alice" cannot delete the frozen environment "prod"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := readDefinitionState(t, fleet)
			out := kubectlFails(t, "alice", "", append(tc.args, "-n", ns)...)
			for _, want := range []string{"Forbidden", tc.want, `it needs the verb "freeze"`} {
				if !strings.Contains(out, want) {
					t.Errorf("refusal does not say %q:\n%s", want, out)
				}
			}
			if after := readDefinitionState(t, fleet); after != before {
				t.Fatalf("a refused request changed Git or an Environment:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}

	out, err = stack.KubectlPlugin(ctx, "bob", "gitgate", "unfreeze", "prod", "-n", ns)
	if err != nil || !strings.Contains(out, "environment.gitgate.dev/prod unfrozen (commit ") {
		t.Fatalf("bob unfreezing prod: %v\n%s", err, out)
	}
	if got := kubectl(t, "bob", "get", "environment", "prod", "-n", ns, "-o", `jsonpath={.spec.freeze}`); got != "" {
		t.Fatalf("prod's freeze after unfreezing = %q, want none", got)
	}
}
