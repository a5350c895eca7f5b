package gitstore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
)

func serveFleet(t *testing.T, opts gitserver.Options) *gitserver.Server {
	t.Helper()
	opts.Root = t.TempDir()
	srv, err := gitserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if _, err := srv.InitRepository(context.Background(), "fleet", filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main", "dev"); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestFetchWithEachCredential(t *testing.T) {
	srv := serveFleet(t, gitserver.Options{Username: "fleet", Password: "right-pass", BearerToken: "right-token"})
	cases := []struct {
		name  string
		creds Credentials
		ok    bool
	}{
		{"basic auth", Credentials{Username: "fleet", Password: "right-pass"}, true},
		{"bearer token", Credentials{BearerToken: "right-token"}, true},
		{"wrong password", Credentials{Username: "fleet", Password: "wrong-pass"}, false},
		{"no credentials", Credentials{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo, err := Open(Options{URL: srv.URL("fleet"), Credentials: tc.creds})
			if err != nil {
				t.Fatal(err)
			}
			err = repo.Fetch(context.Background())
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				heads, _ := repo.Branches()
				if len(heads) != 2 || heads["main"] != heads["dev"] {
					t.Fatalf("branches after fetch = %v, want main and dev at the same commit", heads)
				}
				return
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("fetch error = %v, want ErrUnavailable", err)
			}
			if strings.Contains(err.Error(), "wrong-pass") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestPushIsCompareAndSwap(t *testing.T) {
	srv := serveFleet(t, gitserver.Options{})
	a, _ := Open(Options{URL: srv.URL("fleet")})
	b, _ := Open(Options{URL: srv.URL("fleet")})
	ctx := context.Background()
	for _, r := range []*Repository{a, b} {
		if err := r.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	heads, _ := a.Branches()
	base := heads["main"]
	sig := Signature{Name: "t", Email: "t@example.com"}
	commitA, err := a.CreateCommit([]Hash{base}, ZeroHash, []FileEdit{{Path: "a.txt", Content: []byte("a")}}, "a", sig, sig)
	if err != nil {
		t.Fatal(err)
	}
	commitB, _ := b.CreateCommit([]Hash{base}, ZeroHash, []FileEdit{{Path: "nested/dir/b.txt", Content: []byte("b")}}, "b", sig, sig)
	if err := a.Push(ctx, PushRequest{Branch: "main", Old: base, New: commitA}); err != nil {
		t.Fatal(err)
	}
	if err := b.Push(ctx, PushRequest{Branch: "main", Old: base, New: commitB}); !errors.Is(err, ErrRemoteMoved) {
		t.Fatalf("second push from the same base: %v, want ErrRemoteMoved", err)
	}
	if err := b.Push(ctx, PushRequest{Branch: "dev", Old: ZeroHash, New: commitB}); !errors.Is(err, ErrRemoteMoved) {
		t.Fatalf("creating an existing branch: %v, want ErrRemoteMoved", err)
	}
	if err := b.Push(ctx, PushRequest{Branch: "review/b", Old: ZeroHash, New: commitB}); err != nil {
		t.Fatalf("creating a new branch: %v", err)
	}
	if content, err := b.ReadFile(commitB, "nested/dir/b.txt"); err != nil || string(content) != "b" {
		t.Fatalf("ReadFile = %q, %v", content, err)
	}
	if _, err := b.ReadFile(commitB, "a.txt"); !errors.Is(err, ErrFileNotFound) {
		t.Fatalf("ReadFile of a missing file: %v", err)
	}
	deleted, _ := b.CreateCommit([]Hash{commitB}, ZeroHash, []FileEdit{{Path: "nested/dir/b.txt"}}, "rm", sig, sig)
	if _, err := b.TreeHash(deleted, "nested"); !errors.Is(err, ErrFileNotFound) {
		t.Fatalf("an emptied directory still exists: %v", err)
	}
}

func TestFetchFileURL(t *testing.T) {
	bare := filepath.Join(t.TempDir(), "fleet.git")
	if _, err := gitserver.InitBare(context.Background(), bare, filepath.Join("..", "..", "artifacts", "fleet", "gitflow"), "main", "dev", "test"); err != nil {
		t.Fatal(err)
	}
	repo, err := Open(Options{URL: "file://" + bare})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	heads, _ := repo.Branches()
	if len(heads) != 3 {
		t.Fatalf("branches = %v, want main, dev and test", heads)
	}
	if _, err := repo.ReadFile(heads["test"], ".gitgate/environments/prod.yaml"); err != nil {
		t.Fatal(err)
	}
}

// TestSSHVerifiesTheHostKey fetches and pushes over a real SSH transport,
// and refuses servers whose host key known_hosts does not vouch for.
func TestSSHVerifiesTheHostKey(t *testing.T) {
	root := t.TempDir()
	if _, err := gitserver.InitBare(context.Background(), filepath.Join(root, "fleet.git"), filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main"); err != nil {
		t.Fatal(err)
	}
	_, clientKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, err := ssh.NewPublicKey(clientKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientKey, "")
	if err != nil {
		t.Fatal(err)
	}
	identity := pem.EncodeToMemory(block)
	srv, err := gitserver.StartSSH(root, clientPub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	other, err := gitserver.StartSSH(t.TempDir(), clientPub) // another host key
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Stop() })
	host, port, _ := net.SplitHostPort(srv.Addr)
	impostor := []byte(fmt.Sprintf("[%s]:%s %s", host, port, ssh.MarshalAuthorizedKey(other.HostKey)))
	_, strangerKey, _ := ed25519.GenerateKey(rand.Reader)
	strangerBlock, _ := ssh.MarshalPrivateKey(strangerKey, "")

	tests := []struct {
		name      string
		creds     Credentials
		wantError string
	}{
		{"known host", Credentials{Identity: identity, KnownHosts: srv.KnownHosts()}, ""},
		{"changed host key", Credentials{Identity: identity, KnownHosts: impostor}, "does not match 'known_hosts'"},
		{"unknown host", Credentials{Identity: identity, KnownHosts: other.KnownHosts()}, "is not in 'known_hosts'"},
		{"unauthorized client", Credentials{Identity: pem.EncodeToMemory(strangerBlock), KnownHosts: srv.KnownHosts()}, "unable to authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := Open(Options{URL: srv.URL("fleet"), Credentials: tt.creds})
			if err != nil {
				t.Fatal(err)
			}
			err = repo.Fetch(context.Background())
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("fetch error = %v, want one containing %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			heads, _ := repo.Branches()
			sig := Signature{Name: "gitgate", Email: "gitgate@example.com", When: time.Now()}
			commit, err := repo.CreateCommit([]Hash{heads["main"]}, ZeroHash, []FileEdit{{Path: "over-ssh.txt", Content: []byte("pushed\n")}}, "Over SSH", sig, sig)
			if err != nil {
				t.Fatal(err)
			}
			if err := repo.Push(context.Background(), PushRequest{Branch: "main", Old: heads["main"], New: commit}); err != nil {
				t.Fatalf("push over ssh: %v", err)
			}
			out, err := exec.Command("git", "--git-dir", filepath.Join(root, "fleet.git"), "log", "-1", "--format=%s", "main").Output()
			if err != nil || strings.TrimSpace(string(out)) != "Over SSH" {
				t.Fatalf("the server's main is at %q (%v), want the pushed commit", out, err)
			}
		})
	}
}
