// Package gitserver serves bare Git repositories over smart HTTP(S) on
// loopback with the git CLI's own `git http-backend`. The local stack and
// the tests use it as the GitOps repository's remote; it can be stopped and
// restarted on the same address to simulate an outage.
package gitserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Root holds the bare repositories, served at /<name>.git.
	Root string
	// Username and Password, when set, are required as HTTP basic auth.
	Username, Password string
	// BearerToken, when set, is accepted as Authorization: Bearer instead.
	BearerToken string
	// TLS, when set, serves HTTPS with this configuration.
	TLS *tls.Config
	// Addr is the listen address; default 127.0.0.1:0.
	Addr string
	// Stderr receives git http-backend's messages; default: discarded.
	Stderr io.Writer
	// Observe, when set, is called after each request with how long the
	// server took to answer it (git http-backend and the git process it
	// runs), so benchmarks can tell the server's share from the client's.
	Observe func(r *http.Request, took time.Duration)
}

// Server is a running Git HTTP server.
type Server struct {
	opts    Options
	handler http.Handler

	mu   sync.Mutex
	addr string
	srv  *http.Server
}

// Start serves opts.Root until Stop.
func Start(opts Options) (*Server, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("the git CLI is required to serve repositories: %w", err)
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + opts.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=http.receivepack",
			"GIT_CONFIG_VALUE_0=true",
		},
		Stderr: opts.Stderr,
	}
	if backend.Stderr == nil {
		backend.Stderr = io.Discard
	}
	s := &Server{opts: opts, handler: observed(opts.Observe, withAuth(opts, backend))}
	if err := s.listen(opts.Addr); err != nil {
		return nil, err
	}
	return s, nil
}

func observed(observe func(*http.Request, time.Duration), next http.Handler) http.Handler {
	if observe == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		observe(r, time.Since(start))
	})
}

func withAuth(opts Options, next http.Handler) http.Handler {
	if opts.Username == "" && opts.Password == "" && opts.BearerToken == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		basicOK := ok && opts.Username != "" && u == opts.Username && p == opts.Password
		bearerOK := opts.BearerToken != "" && r.Header.Get("Authorization") == "Bearer "+opts.BearerToken
		if !basicOK && !bearerOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r) // pushes are enabled by http.receivepack=true
	})
}

func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("git server listening on %s: %w", addr, err)
	}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	srv := &http.Server{Handler: s.handler}
	s.mu.Lock()
	s.addr, s.srv = ln.Addr().String(), srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// URL is the clone URL of repository name.
func (s *Server) URL(name string) string {
	scheme := "http"
	if s.opts.TLS != nil {
		scheme = "https"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%s://%s/%s.git", scheme, s.addr, name)
}

// Stop closes the listener and every connection.
func (s *Server) Stop() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Restart serves again on the address the server had.
func (s *Server) Restart() error {
	s.mu.Lock()
	running, addr := s.srv != nil, s.addr
	s.mu.Unlock()
	if running {
		return errors.New("git server is already running")
	}
	return s.listen(addr)
}

// InitRepository creates the bare repository name under the server's root
// from the files in dir, committed on defaultBranch, and pushes the extra
// branches (each a copy of defaultBranch) given. It returns the bare
// repository's path.
func (s *Server) InitRepository(ctx context.Context, name, dir, defaultBranch string, extraBranches ...string) (string, error) {
	return InitBare(ctx, filepath.Join(s.opts.Root, name+".git"), dir, defaultBranch, extraBranches...)
}

// InitBare creates a bare repository at bare from the files in dir.
func InitBare(ctx context.Context, bare, dir, defaultBranch string, extraBranches ...string) (string, error) {
	work, err := os.MkdirTemp("", "gitgate-seed-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if err := os.CopyFS(work, os.DirFS(dir)); err != nil {
		return "", fmt.Errorf("copying %s: %w", dir, err)
	}
	steps := [][]string{
		{"init", "--bare", "--initial-branch=" + defaultBranch, bare},
		{"-C", work, "init", "--initial-branch=" + defaultBranch},
		{"-C", work, "add", "-A"},
		{"-C", work, "-c", "user.name=gitgate", "-c", "user.email=gitgate@example.com", "commit", "-q", "-m", "Initial fleet"},
		{"-C", work, "push", "-q", bare, defaultBranch},
	}
	for _, b := range extraBranches {
		steps = append(steps, []string{"-C", work, "push", "-q", bare, defaultBranch + ":refs/heads/" + b})
	}
	for _, args := range steps {
		if out, err := exec.CommandContext(ctx, "git", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("git %v: %w: %s", args, err, out)
		}
	}
	return bare, nil
}
