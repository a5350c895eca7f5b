package engine

import (
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
	"github.com/gitgate-dev/gitgate/internal/pki"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// fixture is a real Git server on loopback (HTTPS, basic auth) serving a
// copy of an example fleet, and a git CLI clone to observe and change it.
type fixture struct {
	t      *testing.T
	server *gitserver.Server
	url    string
	creds  gitstore.Credentials
	work   string // a git CLI clone, for pushing "by others" and checking
	caFile string
	bare   string // the server's bare repository
}

const (
	testUser = "fleet"
	testPass = "s3cret-pass"
)

func newFixture(t *testing.T, fleet, defaultBranch string, extraBranches ...string) *fixture {
	t.Helper()
	ca, err := pki.NewCA("git-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.LoopbackServer("git")
	if err != nil {
		t.Fatal(err)
	}
	caPEM := ca.CertPEM

	root := t.TempDir()
	srv, err := gitserver.Start(gitserver.Options{
		Root: root, Username: testUser, Password: testPass,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	ctx := context.Background()
	bare, err := srv.InitRepository(ctx, "fleet", filepath.Join("..", "..", "artifacts", "fleet", fleet), defaultBranch, extraBranches...)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		t: t, server: srv, url: srv.URL("fleet"), bare: bare,
		creds: gitstore.Credentials{Username: testUser, Password: testPass, CAFile: caPEM},
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	f.caFile = caFile
	f.work = filepath.Join(t.TempDir(), "work")
	authURL := strings.Replace(f.url, "https://", "https://"+testUser+":"+testPass+"@", 1)
	f.git("", "clone", "-q", authURL, f.work)
	f.git(f.work, "config", "user.name", "someone")
	f.git(f.work, "config", "user.email", "someone@example.com")
	return f
}

func (f *fixture) engine(defaultBranch string) *Engine {
	f.t.Helper()
	e, err := New(Options{
		Repository:    gitstore.Options{URL: f.url, Credentials: f.creds, Timeout: 10 * time.Second},
		DefaultBranch: defaultBranch,
		Author:        gitstore.Signature{Name: "gitgate", Email: "gitgate@example.com"},
		RetryAfter:    5 * time.Second,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil {
		f.t.Fatalf("first refresh: %v", err)
	}
	return e
}

// git runs the git CLI and returns its trimmed output.
func (f *fixture) git(dir string, args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	// GIT_SSL_CAINFO beats http.sslCAInfo, so set it for this server's CA.
	cmd.Env = append(os.Environ(), "GIT_SSL_CAINFO="+f.caFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// pull brings the clone to the remote's state of branch.
func (f *fixture) pull(branch string) {
	f.git(f.work, "fetch", "-q", "origin")
	f.git(f.work, "checkout", "-q", "-B", branch, "origin/"+branch)
}

// commitFile commits content at name on branch, as someone else, and pushes.
func (f *fixture) commitFile(branch, name, content string) string {
	f.pull(branch)
	p := filepath.Join(f.work, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.git(f.work, "add", "-A")
	f.git(f.work, "commit", "-q", "-m", "edit "+name)
	f.git(f.work, "push", "-q", "origin", branch)
	return f.git(f.work, "rev-parse", "HEAD")
}

// remoteHead is a branch's head on the server.
func (f *fixture) remoteHead(branch string) string {
	f.git(f.work, "fetch", "-q", "origin")
	out := f.git(f.work, "ls-remote", "origin", "refs/heads/"+branch)
	sha, _, _ := strings.Cut(out, "\t")
	return sha
}

// show returns a file's content at a remote branch.
func (f *fixture) show(branch, name string) string {
	f.git(f.work, "fetch", "-q", "origin")
	return f.git(f.work, "show", "origin/"+branch+":"+name)
}

func promotion(name, env, from string, images ...string) *gitgate.Promotion {
	p := &gitgate.Promotion{Spec: gitgate.PromotionSpec{Environment: env, From: from, Images: images}}
	p.Name = name
	return p
}

func findImageTag(env *gitgate.Environment, name string) string {
	for _, img := range env.Status.Images {
		if img.Name == name {
			return img.Tag
		}
	}
	return ""
}
