package registry

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
	"github.com/gitgate-dev/gitgate/internal/pki"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

const (
	urlPassword   = "url-pa55word-in-the-URL"
	credsPassword = "creds-pa55word-in-the-Secret"
)

// failingGit is an HTTPS reverse proxy to a real Git server that can be
// told to answer 500 with a body quoting the credentials it was sent, or
// to stop listening.
type failingGit struct {
	srv  *httptest.Server
	fail atomic.Bool
	ca   []byte
}

func newFailingGit(t *testing.T) *failingGit {
	t.Helper()
	root := t.TempDir()
	git, err := gitserver.Start(gitserver.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = git.Stop() })
	if _, err := git.InitRepository(context.Background(), "fleet", filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main"); err != nil {
		t.Fatal(err)
	}
	backend, _ := url.Parse(git.URL("fleet"))
	backend.Path = ""
	proxy := httputil.NewSingleHostReverseProxy(backend)
	ca, err := pki.NewCA("failing-git-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.LoopbackServer("git")
	if err != nil {
		t.Fatal(err)
	}
	f := &failingGit{ca: ca.CertPEM}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.fail.Load() {
			user, pass, _ := r.BasicAuth()
			http.Error(w, "internal error serving "+user+":"+pass+" at "+r.URL.String(), http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// TestCredentialsNeverReachErrorsConditionsOr503s: a repository URL with a
// password, and a password in the credentials, against a Git server that
// answers 500 quoting them, then one that refuses connections.
func TestCredentialsNeverReachErrorsConditionsOr503s(t *testing.T) {
	git := newFailingGit(t)
	rawURL := strings.Replace(git.srv.URL, "https://", "https://fleet:"+urlPassword+"@", 1) + "/fleet.git"
	e, err := engine.New(engine.Options{
		Repository: gitstore.Options{URL: rawURL, Credentials: gitstore.Credentials{Password: credsPassword, Username: "fleet", CAFile: git.ca}, Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Refresh(ctx); err != nil {
		t.Fatalf("first refresh through the proxy: %v", err)
	}
	cases := []struct {
		name    string
		breakIt func()
	}{
		{"the server answers 500 quoting the credentials", func() { git.fail.Store(true) }},
		{"the server refuses connections", func() { git.srv.Close() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.breakIt()
			var texts []string
			if err := e.Refresh(ctx); err == nil {
				t.Fatal("refresh worked against a broken server")
			} else {
				texts = append(texts, "refresh error: "+err.Error())
			}
			env, err := e.Snapshot().Environment("prod")
			if err != nil {
				t.Fatal(err)
			}
			reachable := false
			for _, c := range env.Status.Conditions {
				if c.Type == gitgate.ConditionGitReachable {
					reachable = c.Status == metav1.ConditionTrue
					texts = append(texts, "condition: "+c.Message)
				}
			}
			if reachable {
				t.Fatal("GitReachable is True against a broken server")
			}
			_, err = e.Promote(ctx, engine.PromotionRequest{Promotion: &gitgate.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: gitgate.PromotionSpec{Environment: "prod"}}, User: "bob"})
			status := StatusError(err, gitgate.Resource("promotions"), "Promotion", "p")
			body, _ := json.Marshal(status)
			if !strings.Contains(string(body), `"code":503`) {
				t.Fatalf("promotion against a broken server: %s, want a 503", body)
			}
			texts = append(texts, "503 body: "+string(body))
			for _, text := range texts {
				for _, secret := range []string{urlPassword, credsPassword} {
					if strings.Contains(text, secret) {
						t.Errorf("%s leaks %q", text, secret)
					}
				}
			}
			t.Logf("%s", strings.Join(texts, "\n"))
		})
	}
}
