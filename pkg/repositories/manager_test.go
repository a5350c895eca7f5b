package repositories

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
	"github.com/gitgate-dev/gitgate/pkg/receiver"
)

func TestReloadRebindsNamespacesAndKeepsEngines(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	git := serveFleet(t, gitserver.Options{})
	file := filepath.Join(t.TempDir(), "config.yaml")
	write := func(content string) { t.Helper(); writeConfig(t, file, content) }
	config := func(namespaces string) string {
		return fmt.Sprintf("repositories:\n- {name: fleet, url: %s, namespaces: [%s]}\n", git.URL("fleet"), namespaces)
	}
	write(config("shop"))
	m := New(Options{ConfigPath: file, ReloadInterval: 10 * time.Millisecond})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first, _, ok := m.Engine("shop")
	if !ok {
		t.Fatal("shop is not bound")
	}
	waitUntil(t, "the repository is read", func() bool { return m.Ready() == nil })

	write(config("shop, shop-preview"))
	waitUntil(t, "shop-preview is bound", func() bool { _, _, ok := m.Engine("shop-preview"); return ok })
	if again, _, _ := m.Engine("shop"); again != first {
		t.Error("rebinding namespaces replaced the repository's engine")
	}

	bad := "repositories: [{name: BAD}]\n"
	write(bad)
	waitUntil(t, "the invalid file is seen", func() bool { return string(m.bindings.Load().rejected) == bad })
	if _, _, ok := m.Engine("shop-preview"); !ok {
		t.Fatal("an invalid configuration dropped the previous one")
	}

	write(config("other"))
	waitUntil(t, "shop is unbound", func() bool { _, _, ok := m.Engine("shop"); return !ok })
	if got := m.Namespaces(); len(got) != 1 || got[0] != "other" {
		t.Fatalf("namespaces = %v, want [other]", got)
	}
}

// writeConfig replaces the configuration file whole, as a mounted
// ConfigMap is replaced: the manager, polling every few milliseconds,
// must never read it half-written (an empty file binds nothing, and
// rebinding then makes new engines).
func writeConfig(t *testing.T, file, content string) {
	t.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// serveFleet serves a copy of the example trunk fleet as repository fleet.
func serveFleet(t *testing.T, opts gitserver.Options) *gitserver.Server {
	t.Helper()
	opts.Root = t.TempDir()
	git, err := gitserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = git.Stop() })
	if _, err := git.InitRepository(context.Background(), "fleet", filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main"); err != nil {
		t.Fatal(err)
	}
	return git
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRotatedCredentialsTakeEffect(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	git := serveFleet(t, gitserver.Options{Username: "fleet", Password: "new-pass"})
	file := filepath.Join(t.TempDir(), "config.yaml")
	config := fmt.Sprintf("repositories:\n- {name: fleet, url: %s, namespaces: [shop], pollInterval: 1s, secretRef: {namespace: gitgate-system, name: fleet-auth}}\n", git.URL("fleet"))
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	password := "old-pass" // the Secret still has the old password
	secrets := func(_ context.Context, ns, name string) (map[string][]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return map[string][]byte{"username": []byte("fleet"), "password": []byte(password)}, nil
	}
	var refused atomic.Int32 // fetches the server turned down
	observe := func(string) func(string, time.Duration, error) {
		return func(op string, _ time.Duration, err error) {
			if op == "fetch" && err != nil {
				refused.Add(1)
			}
		}
	}
	m := New(Options{ConfigPath: file, Secrets: secrets, ObserveGit: observe, ReloadInterval: 10 * time.Millisecond, SecretResync: 50 * time.Millisecond})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first, _, _ := m.Engine("shop")
	waitUntil(t, "the old password is refused", func() bool { return refused.Load() > 0 })
	if m.Ready() == nil {
		t.Fatal("ready with a wrong password")
	}
	mu.Lock()
	password = "new-pass" // rotated
	mu.Unlock()
	waitUntil(t, "the rotated password is used", func() bool { return m.Ready() == nil })
	if again, _, _ := m.Engine("shop"); again == first {
		t.Error("rotated credentials kept the old engine")
	}
}

func TestPushNotificationsRefreshAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	git := serveFleet(t, gitserver.Options{})
	file := filepath.Join(t.TempDir(), "config.yaml")
	// An hour between polls: only the notification can explain a fresh read.
	config := fmt.Sprintf("repositories:\n- {name: fleet, url: %s, namespaces: [shop], pollInterval: 1h, secretRef: {namespace: gitgate-system, name: fleet-auth}}\n", git.URL("fleet"))
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := func(context.Context, string, string) (map[string][]byte, error) {
		return map[string][]byte{"webhookToken": []byte("hook-token")}, nil
	}
	m := New(Options{ConfigPath: file, Secrets: secrets, ReloadInterval: 10 * time.Millisecond})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the repository is read", func() bool { return m.Ready() == nil })
	e, _, _ := m.Engine("shop")
	before := e.Snapshot().ResourceVersion()

	// Someone pushes.
	work := filepath.Join(t.TempDir(), "work")
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("", "clone", "-q", git.URL("fleet"), work)
	run(work, "-c", "user.name=someone", "-c", "user.email=s@example.com", "commit", "-q", "--allow-empty", "-m", "push")
	run(work, "push", "-q", "origin", "HEAD:main")

	h := &receiver.Handler{Lookup: m.Receiver}
	req := httptest.NewRequest(http.MethodPost, receiver.PathPrefix+"fleet", strings.NewReader("{}"))
	req.Header.Set("X-Gitlab-Token", "hook-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("notification: %d %s", rec.Code, rec.Body)
	}
	waitUntil(t, "the pushed commit is read", func() bool { return e.Snapshot().ResourceVersion() > before })
}

func TestBrokenSecretStopsOnlyItsRepository(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	git := serveFleet(t, gitserver.Options{})
	file := filepath.Join(t.TempDir(), "config.yaml")
	// shop reads no Secret; web signs with a Secret that has no key;
	// blog's credentials Secret works until it is broken below.
	writeConfig(t, file, fmt.Sprintf("repositories:\n"+
		"- {name: shop, url: %[1]s, namespaces: [shop]}\n"+
		"- {name: web, url: %[1]s, namespaces: [web], signing: {format: ssh, secretRef: {namespace: gitgate-system, name: web-signing}}}\n"+
		"- {name: blog, url: %[1]s, namespaces: [blog], secretRef: {namespace: gitgate-system, name: blog-auth}}\n", git.URL("fleet")))
	var mu sync.Mutex
	blogBroken := false
	var reads atomic.Int32
	secrets := func(_ context.Context, ns, name string) (map[string][]byte, error) {
		reads.Add(1)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case name == "web-signing":
			return map[string][]byte{"passphrase": []byte("s3cret-passphrase")}, nil
		case name == "blog-auth" && blogBroken:
			return nil, fmt.Errorf("secrets %q is forbidden", name)
		}
		return map[string][]byte{}, nil
	}
	m := New(Options{ConfigPath: file, Secrets: secrets, ReloadInterval: 5 * time.Millisecond, SecretResync: 10 * time.Millisecond})
	if err := m.Start(ctx); err != nil {
		t.Fatalf("a broken Secret in one repository failed the start: %v", err)
	}
	shop, _, ok := m.Engine("shop")
	if !ok {
		t.Fatal("shop is not bound: web's broken signing Secret stopped every repository")
	}
	blog, _, ok := m.Engine("blog")
	if !ok {
		t.Fatal("blog is not bound")
	}
	if _, _, ok := m.Engine("web"); ok {
		t.Fatal("web is bound without its signing key")
	}
	failures := m.Failures()
	if msg := failures["web"]; !strings.Contains(msg, `has no "identity"`) || strings.Contains(msg, "s3cret") {
		t.Fatalf("web's failure = %q, want the missing key named and no Secret content", msg)
	}

	mu.Lock()
	blogBroken = true
	mu.Unlock()
	waitUntil(t, "blog's broken Secret is seen", func() bool { _, ok := m.Failures()["blog"]; return ok })
	n := reads.Load() + 12 // several resyncs of every Secret
	waitUntil(t, "more Secret resyncs", func() bool { return reads.Load() >= n })
	if again, _, _ := m.Engine("shop"); again != shop {
		t.Error("shop's engine was restarted while another repository's Secret was broken")
	}
	if again, _, ok := m.Engine("blog"); !ok || again != blog {
		t.Error("blog lost its previous engine when its Secret broke")
	}
}
