package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The pipeline page, `kubectl gitgate ui`, in Debian's headless Chromium:
// each test starts the real plugin through kubectl as one user, opens the
// URL it prints, and acts on the page as that user would, with the mouse
// or the keyboard. Screenshots go to _output/ui-screenshots/.

// chromiumPath is Debian's chromium (make chromium installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Debian's chromium is not installed: run `make chromium` (apt-get install -y chromium)")
	return ""
}

// browser starts a headless Chromium of the test's own, closed at its end.
func browser(t *testing.T) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1500, 1000),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, which lives as long as the context
	// of that run: no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath(t), err)
	}
	return ctx
}

// startUI runs `kubectl gitgate ui` as user for namespace ns (every
// namespace when ns is "": -A) until the test ends, and returns the URL it
// prints.
func startUI(t *testing.T, user, ns string) string {
	t.Helper()
	where := []string{"-n", ns}
	if ns == "" {
		where = []string{"--all-namespaces"}
	}
	cmd := exec.Command(stack.KubectlPath(), append(append([]string{"gitgate", "ui"}, where...), "--port", "0", "--kubeconfig="+stack.Kubeconfig, "--context="+user)...)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join("..", "..", "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("kubectl gitgate ui did not stop cleanly on Ctrl-C: %v", err)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("kubectl gitgate ui printed no URL: %v", err)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), " at ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("kubectl gitgate ui printed %q, want a loopback URL", line)
	}
	return url
}

// run runs browser actions with a timeout.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		screenshot(t, ctx, "failed-"+t.Name())
		t.Fatalf("%s: %v", what, err)
	}
}

// js evaluates an expression on the page and returns its value as text.
func js(ctx context.Context, expr string) string {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := chromedp.Run(c, chromedp.Evaluate[string](`String(`+expr+`)`))
	if err != nil {
		return "error: " + err.Error()
	}
	return out
}

// do is an action that runs a statement on the page.
func do(statement string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[int](statement+"; 0")(ctx, t)
		return err
	})
}

// text is the text of the element selector names, "" when there is none.
func text(ctx context.Context, selector string) string {
	return js(ctx, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, selector))
}

// waitText waits until the element's text contains want; when it does not,
// the page's screenshot is kept for the failure.
func waitText(t *testing.T, ctx context.Context, selector, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := ""
	for time.Now().Before(deadline) {
		if got = text(ctx, selector); strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	screenshot(t, ctx, "failed-"+t.Name())
	t.Fatalf("%s does not show %q after %s: it shows %q; the page says %q, %q", selector, want, timeout, got, text(ctx, "#live"), text(ctx, "#error"))
}

// screenshot writes the page as _output/ui-screenshots/<name>.png.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := filepath.Join("..", "..", "_output", "ui-screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Error(err)
		return
	}
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(dir, strings.NewReplacer("/", "-", " ", "_").Replace(name)+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", file)
}

// openPipeline opens the page and waits until it follows the cluster and
// has checked the user's permissions on prod.
func openPipeline(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	run(t, ctx, "opening the page", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#env-prod")))
	waitText(t, ctx, "#live", "Live", time.Minute)
	eventually(t, "the permission check of prod", time.Minute, func() string {
		if r := text(ctx, "#promote-prod-reason"); strings.Contains(r, "Checking") {
			return r
		}
		return ""
	})
}

// alice may promote into dev and test but not prod: the page says so
// before she tries, and when she forces the button anyway the server's
// 403 is shown as kubectl shows it, and nothing changes in Git.
func TestUIAliceSeesProdPromoteDisabled(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ctx := browser(t)
	openPipeline(t, ctx, startUI(t, "alice", fleet.ns))

	if js(ctx, `document.querySelector('#promote-prod').disabled`) != "true" {
		t.Error("prod's promote button is enabled for alice")
	}
	reason := text(ctx, "#promote-prod-reason")
	if !strings.Contains(reason, `alice may not promote into prod: it needs the verb "promote" on environments.gitgate.dev named "prod"`) {
		t.Errorf("prod's promote button gives no reason: %q", reason)
	}
	if described := js(ctx, `document.querySelector('#promote-prod').getAttribute('aria-describedby')`); described != "promote-prod-reason" {
		t.Errorf("the reason does not describe the button for screen readers: aria-describedby=%q", described)
	}
	eventually(t, "test's promote button", time.Minute, func() string {
		if js(ctx, `document.querySelector('#promote-test').disabled`) != "false" {
			return "disabled: " + text(ctx, "#env-test .actions")
		}
		return ""
	})
	screenshot(t, ctx, "alice-prod-disabled")

	// A stale page: the button enabled by hand. The dry run reaches the
	// server, which refuses; the page shows the refusal as it came.
	refs := fleet.gitRefs()
	run(t, ctx, "forcing prod's promote button",
		do(`document.querySelector('#promote-prod').disabled = false`),
		chromedp.Click(chromedp.CSS("#promote-prod")))
	waitText(t, ctx, "#preview-error", `Error from server (Forbidden): promotions.gitgate.dev is forbidden: user "alice" cannot promote into environment "prod"`, time.Minute)
	if js(ctx, `document.querySelector('#preview-confirm').disabled`) != "true" {
		t.Error("the refused preview can still be confirmed")
	}
	screenshot(t, ctx, "alice-prod-forbidden")
	if got := fleet.gitRefs(); got != refs {
		t.Errorf("Git changed:\nbefore %s\nafter  %s", refs, got)
	}
}

// bob promotes test into prod from the page, with the keyboard: a dry-run
// preview first, which writes nothing, then the commit, in Git with his
// name and message; the page follows. Then he rolls prod back to a
// revision its history lists.
func TestUIBobPromotesAndRollsBack(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	oldTag := strings.TrimSpace(kubectl(t, "admin", "get", "environment", "prod", "-n", fleet.ns, "-o", `jsonpath={.status.images[?(@.name=="app")].tag}`))
	tag := fleet.setTag("test", "version-30.")
	before := fleet.head()
	ctx := browser(t)
	openPipeline(t, ctx, startUI(t, "bob", fleet.ns))
	waitText(t, ctx, "#pending-prod", "app: "+oldTag+" → "+tag, time.Minute)

	run(t, ctx, "pressing Enter on prod's promote button",
		chromedp.Focus(chromedp.CSS("#promote-prod")),
		chromedp.KeyEvent(kb.Enter))
	waitText(t, ctx, "#preview-changes tbody", tag, time.Minute)
	if fleet.head() != before {
		t.Fatal("the dry-run preview changed Git")
	}
	screenshot(t, ctx, "bob-promote-preview")
	run(t, ctx, "typing a message and confirming",
		chromedp.SendKeys(chromedp.CSS("#preview-message"), "release from the page"),
		chromedp.Click(chromedp.CSS("#preview-confirm")))
	waitText(t, ctx, "#notice", "created", time.Minute)

	head := fleet.head()
	if head == before {
		t.Fatal("no commit in Git after bob confirmed")
	}
	if msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", head); !strings.Contains(msg, "release from the page") || !strings.Contains(msg, "Promoted-By: bob") || !strings.Contains(msg, "Gitgate-Environment: prod") {
		t.Errorf("the commit is not bob's promotion into prod:\n%s", msg)
	}
	if overlay := fleet.git(fleet.dir, "show", "origin/main:overlays/prod/kustomization.yaml"); !strings.Contains(overlay, "newTag: "+tag) {
		t.Errorf("prod's overlay does not carry %s:\n%s", tag, overlay)
	}
	waitText(t, ctx, "#pending-prod", "in step with test", time.Minute)
	waitText(t, ctx, "#promotions tbody tr:first-child", "bob", time.Minute)
	screenshot(t, ctx, "bob-promoted")

	// Roll back to the revision before the promotion, from prod's history.
	run(t, ctx, "opening prod's history", chromedp.Click(chromedp.CSS("#history-prod")))
	waitText(t, ctx, "#history-status", "newest first", time.Minute)
	run(t, ctx, "rolling back to the second entry",
		chromedp.Click(chromedp.CSS("#history-entries tbody tr:nth-child(2) button")))
	waitText(t, ctx, "#preview-title", "Roll prod back to", time.Minute)
	waitText(t, ctx, "#preview-changes tbody td:nth-child(3)", oldTag, time.Minute)
	run(t, ctx, "confirming the rollback", chromedp.Click(chromedp.CSS("#preview-confirm")))
	waitText(t, ctx, "#notice", "rollback", time.Minute)
	fleet.head()
	if overlay := fleet.git(fleet.dir, "show", "origin/main:overlays/prod/kustomization.yaml"); !strings.Contains(overlay, "newTag: "+oldTag) {
		t.Errorf("after the rollback prod's overlay does not carry %s:\n%s", oldTag, overlay)
	}
	waitText(t, ctx, "#promotions tbody tr:first-child", "prod (rollback)", time.Minute)
}

// A promotion made with kubectl shows up on the open page, and the
// environments it changed follow, without a reload.
func TestUIFollowsKubectlPromotionsLive(t *testing.T) {
	t.Parallel()
	fleet, ctx, notReloaded := openLivePage(t, "alice")

	tag := fleet.setTag("dev", "development-31.")
	createPromotion(t, "alice", promotionYAML("made-with-kubectl", "test", ""), "-n", fleet.ns)
	waitText(t, ctx, "#promo-made-with-kubectl", "alice", time.Minute)
	waitText(t, ctx, "#env-test .images", tag, time.Minute)
	notReloaded()
	screenshot(t, ctx, "kubectl-promotion-live")
}

// openLivePage opens user's page of a fleet of its own, marked so that
// the returned check fails the test if the page reloaded since.
func openLivePage(t *testing.T, user string) (*fleetClone, context.Context, func()) {
	t.Helper()
	fleet := newFleet(t)
	ctx := browser(t)
	openPipeline(t, ctx, startUI(t, user, fleet.ns))
	run(t, ctx, "marking the page", do(`window.notReloaded = true`))
	return fleet, ctx, func() {
		t.Helper()
		if js(ctx, `window.notReloaded === true`) != "true" {
			t.Error("the page reloaded")
		}
	}
}

// bob freezes prod with kubectl: prod's card shows it frozen with his
// reason, live; unfreezing opens it again, without a reload.
func TestUIShowsFreezeLive(t *testing.T) {
	t.Parallel()
	fleet, ctx, notReloaded := openLivePage(t, "alice")
	waitText(t, ctx, "#freeze-prod", "open", time.Minute)

	reason := "incident " + fmt.Sprint(time.Now().UnixNano()) + ": hold releases"
	if out, err := stack.KubectlPlugin(context.Background(), "bob", "gitgate", "freeze", "prod", "-n", fleet.ns, "--reason", reason); err != nil {
		t.Fatalf("bob freezing prod: %v\n%s", err, out)
	}
	waitText(t, ctx, "#freeze-prod", reason, time.Minute)
	if !strings.Contains(js(ctx, `document.querySelector('#env-prod').className`), "is-frozen") {
		t.Error("prod's card is not marked as frozen")
	}
	screenshot(t, ctx, "freeze-prod")

	if out, err := stack.KubectlPlugin(context.Background(), "bob", "gitgate", "unfreeze", "prod", "-n", fleet.ns); err != nil {
		t.Fatalf("bob unfreezing prod: %v\n%s", err, out)
	}
	waitText(t, ctx, "#freeze-prod", "open", time.Minute)
	if strings.Contains(js(ctx, `document.querySelector('#env-prod').className`), "is-frozen") {
		t.Error("prod's card is still marked as frozen after the unfreeze")
	}
	notReloaded()
}

// A break-glass change by bob shows as drift on prod's card, live.
func TestUIShowsDriftAfterBreakGlass(t *testing.T) {
	app := setupAdmission(t)
	ctx := browser(t)
	openPipeline(t, ctx, startUI(t, "bob", "shop"))
	reason := "INC-ui-" + fmt.Sprint(time.Now().UnixNano())
	kubectl(t, "bob", "annotate", "deployment", app, "-n", "shop-prod", "gitgate.dev/break-glass="+reason, "--overwrite")
	waitText(t, ctx, "#drift-prod", reason, 90*time.Second)
	if !strings.Contains(js(ctx, `document.querySelector('#env-prod').className`), "has-drift") {
		t.Error("prod's card is not marked as drifted")
	}
	screenshot(t, ctx, "breakglass-drift")
}

// A promotion into prod waits for one approval. alice, who lacks the verb
// approve on prod, sees Approve disabled with the reason; forcing it shows
// the server's 403 as it came and Git does not move. bob approves from
// the page: the approval lands the promotion, Git carries it with his
// Approved-By, and the page shows it Succeeded without a reload. With
// --all-namespaces the same promotion shows under its namespace.
func TestUIApproveFromThePage(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	fleet.requireApprovals("1")
	tag := fleet.setTag("test", "version-41.")
	mainBefore := fleet.head()
	createPromotion(t, "admin", promotionYAML("prod-from-page", "prod", ""), "-n", ns, "--as=carol", "--as-group=shop-release-managers")
	review := "refs/heads/gitgate/promotions/prod-from-page"

	ctx := browser(t)
	openPipeline(t, ctx, startUI(t, "alice", ns))
	waitText(t, ctx, "#approvals-prod-from-page", "approvals 0/1", time.Minute)
	eventually(t, "the permission check of the approve button", time.Minute, func() string {
		if r := text(ctx, "#approve-prod-from-page-reason"); r == "" || strings.Contains(r, "Checking") {
			return "reason: " + r
		}
		return ""
	})
	if js(ctx, `document.querySelector('#approve-prod-from-page').disabled`) != "true" {
		t.Error("alice's approve button is enabled")
	}
	if reason := text(ctx, "#approve-prod-from-page-reason"); !strings.Contains(reason, `alice may not approve promotions into prod: it needs the verb "approve" on environments.gitgate.dev named "prod"`) {
		t.Errorf("the approve button gives no reason: %q", reason)
	}
	if described := js(ctx, `document.querySelector('#approve-prod-from-page').getAttribute('aria-describedby')`); described != "approve-prod-from-page-reason" {
		t.Errorf("the reason does not describe the button: aria-describedby=%q", described)
	}
	screenshot(t, ctx, "alice-approve-disabled")

	// A stale page: the button enabled by hand. The server refuses.
	refs := fleet.lsRemote()
	if !strings.Contains(refs, review) {
		t.Fatalf("no review branch %s:\n%s", review, refs)
	}
	run(t, ctx, "forcing alice's approve button",
		do(`document.querySelector('#approve-prod-from-page').disabled = false`),
		chromedp.Click(chromedp.CSS("#approve-prod-from-page")),
		chromedp.WaitVisible(chromedp.CSS("#decide-confirm")),
		chromedp.Click(chromedp.CSS("#decide-confirm")))
	waitText(t, ctx, "#decide-error", `Error from server (Forbidden): `, time.Minute)
	if got := text(ctx, "#decide-error"); !strings.Contains(got, `cannot approve promotions into environment "prod"`) {
		t.Errorf("the refusal is not the server's: %q", got)
	}
	screenshot(t, ctx, "alice-approve-forbidden")
	if got := fleet.lsRemote(); got != refs {
		t.Errorf("a refused approval changed Git:\nbefore %s\nafter  %s", refs, got)
	}
	if fleet.head() != mainBefore {
		t.Error("a refused approval moved main")
	}

	// bob approves from the page.
	run(t, ctx, "opening bob's page", chromedp.Navigate(startUI(t, "bob", ns)), chromedp.WaitVisible(chromedp.CSS("#env-prod")))
	waitText(t, ctx, "#live", "Live", time.Minute)
	eventually(t, "bob's approve button", time.Minute, func() string {
		if js(ctx, `document.querySelector('#approve-prod-from-page') && document.querySelector('#approve-prod-from-page').disabled`) != "false" {
			return "not enabled: " + text(ctx, "#promo-prod-from-page")
		}
		return ""
	})
	screenshot(t, ctx, "bob-approve-ready")
	run(t, ctx, "approving with a message",
		do(`window.notReloaded = true`),
		chromedp.Click(chromedp.CSS("#approve-prod-from-page")),
		chromedp.WaitVisible(chromedp.CSS("#decide-message")),
		chromedp.SendKeys(chromedp.CSS("#decide-message"), "approved from the page"),
		chromedp.Click(chromedp.CSS("#decide-confirm")))
	waitText(t, ctx, "#phase-prod-from-page", "Succeeded", time.Minute)
	waitText(t, ctx, "#approvals-prod-from-page", "by bob", time.Minute)
	if js(ctx, `window.notReloaded === true`) != "true" {
		t.Error("the page reloaded")
	}
	screenshot(t, ctx, "bob-approved-landed")
	head := fleet.head()
	if head == mainBefore {
		t.Fatal("main did not move after bob's approval")
	}
	msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", head)
	for _, line := range []string{"Gitgate-Promotion: prod-from-page", "Promoted-By: carol", "Approved-By: bob"} {
		if !strings.Contains(msg, line) {
			t.Errorf("the landing commit lacks %q:\n%s", line, msg)
		}
	}
	if overlay := fleet.git(fleet.dir, "show", head+":overlays/prod/kustomization.yaml"); !strings.Contains(overlay, "newTag: "+tag) {
		t.Errorf("prod's overlay does not carry %s:\n%s", tag, overlay)
	}
	if approval := fleet.git(fleet.dir, "log", "-1", "--format=%B", "origin/gitgate/promotions/prod-from-page"); !strings.Contains(approval, "Approved-By: bob") || !strings.Contains(approval, "approved from the page") {
		t.Errorf("the review branch lacks bob's approval commit with his message:\n%s", approval)
	}

	// Every namespace, as the admin: the fleet's pipeline under its
	// namespace, and the switcher narrows the page to it.
	run(t, ctx, "opening the page of every namespace", chromedp.Navigate(startUI(t, "admin", "")), chromedp.WaitVisible(chromedp.CSS("#ns-"+ns)))
	waitText(t, ctx, "#promo-"+ns+"_prod-from-page", "Succeeded", time.Minute)
	waitText(t, ctx, "#ns-"+ns+" #env-"+ns+"_prod .images", tag, time.Minute)
	run(t, ctx, "choosing the fleet's namespace", chromedp.SetValue(chromedp.CSS("#ns-filter"), ns),
		do(`document.querySelector('#ns-filter').dispatchEvent(new Event('change'))`))
	eventually(t, "only the fleet's namespace shown", time.Minute, func() string {
		if got := js(ctx, `[...document.querySelectorAll('section.ns')].map((s) => s.id).join(',')`); got != "ns-"+ns {
			return "sections " + got
		}
		return ""
	})
	screenshot(t, ctx, "all-namespaces-one-chosen")

	// bob may list environments in his namespaces only: his page of every
	// namespace shows the cluster's refusal as it came, and no pipeline.
	run(t, ctx, "opening bob's page of every namespace", chromedp.Navigate(startUI(t, "bob", "")), chromedp.WaitVisible(chromedp.CSS("#ns-switcher")))
	waitText(t, ctx, "#error", "Error from server (Forbidden): ", time.Minute)
	if got := text(ctx, "#error"); !strings.HasPrefix(got, "Listing ") || !strings.Contains(got, `User "bob" cannot list resource`) || !strings.Contains(got, "at the cluster scope") {
		t.Errorf("the refusal is not the cluster's to bob: %q", got)
	}
	if n := js(ctx, `document.querySelectorAll('article.env').length`); n != "0" {
		t.Errorf("bob's page of every namespace shows %s environments", n)
	}
	screenshot(t, ctx, "bob-all-namespaces-forbidden")
}
