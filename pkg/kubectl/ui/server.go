package ui

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
)

// DefaultAddress is the loopback address the page is served on.
const DefaultAddress = "127.0.0.1"

// Options configure a Server.
type Options struct {
	// Address is the IP address to listen on. It must be a loopback
	// address (127.0.0.0/8 or ::1); anything else is refused. Defaults to
	// 127.0.0.1.
	Address string
	// Port to listen on; 0 picks a free one.
	Port int
	// Namespace whose environments and promotions the page shows; the
	// proxy forwards requests for this namespace only. With AllNamespaces
	// it is only where the page starts (the kubeconfig's namespace).
	Namespace string
	// AllNamespaces shows every namespace's pipeline the user may list
	// (kubectl's --all-namespaces): the proxy forwards the page's requests
	// for any namespace, and cluster-wide lists of environments and
	// promotions, which RBAC allows or refuses.
	AllNamespaces bool
	// Config is the user's client configuration (from their kubeconfig):
	// every forwarded request carries its credentials.
	Config *rest.Config
}

// Server serves the page and forwards its API requests.
type Server struct {
	namespace     string
	allNamespaces bool
	token         string
	listener      net.Listener
	hosts         map[string]bool // Host header values that name this server
	origins       map[string]bool // Origin header values of this server's page
	handler       http.Handler
}

// New checks opts, binds the listener and returns the server; call Serve
// to answer requests. It fails when opts.Address is not a loopback IP.
func New(opts Options) (*Server, error) {
	if opts.Namespace == "" && !opts.AllNamespaces {
		return nil, errors.New("a namespace is required: pass -n NAMESPACE or set one in the kubeconfig context")
	}
	if opts.Config == nil {
		return nil, errors.New("a client configuration is required")
	}
	addr := opts.Address
	if addr == "" {
		addr = DefaultAddress
	}
	ip := net.ParseIP(addr)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("address %q is not a loopback IP: the page acts with your credentials, so it is served on 127.0.0.1 or ::1 only", addr)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("port %d is out of range: use 0 for a free port, or 1-65535", opts.Port)
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	only := opts.Namespace // the one namespace requests may name; "" for any
	if opts.AllNamespaces {
		only = ""
	}
	forward, err := newProxy(opts.Config, only)
	if err != nil {
		return nil, err
	}
	access, err := newAccessReviewer(opts.Config, only)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(opts.Port)))
	if err != nil {
		return nil, fmt.Errorf("listening on %s port %d: %w (choose another --port)", ip, opts.Port, err)
	}
	s := &Server{namespace: opts.Namespace, allNamespaces: opts.AllNamespaces, token: token, listener: l}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	s.hosts = map[string]bool{net.JoinHostPort(ip.String(), port): true}
	if ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback) {
		s.hosts["localhost:"+port] = true
	}
	s.origins = map[string]bool{}
	for h := range s.hosts {
		s.origins["http://"+h] = true
	}
	s.handler = s.guard(s.routes(forward, access))
	return s, nil
}

// newToken returns 256 random bits, URL-safe.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making the page's token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// URL is the page's address, token included: whoever has it acts as you
// until the server stops.
func (s *Server) URL() string {
	return "http://" + s.listener.Addr().String() + "/" + s.token + "/"
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Handler answers the page's requests (guarded); Serve uses it.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers requests until ctx ends, then closes the listener and
// waits a moment for requests in flight.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: watches stream for as long as the page is open.
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(s.listener) }()
	select {
	case err := <-done:
		return fmt.Errorf("serving the page: %w", err)
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		srv.Close() // watches never finish by themselves
		return nil
	}
}
