package localstack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Replicas is a second gitgate-apiserver on the stack's repositories and a
// front that spreads the APIService's requests over both, as a Service
// with two ready Pods would. kube-apiserver keeps one connection to an
// aggregated server open for many requests, so balancing connections (what
// a plain TCP proxy or kube-proxy does) would send nearly everything to one
// replica; the front balances requests instead: it terminates TLS with
// gitgate's serving certificate, admits only kube-apiserver's front-proxy
// client certificate, and passes each request on round robin, presenting
// the same front-proxy certificate, so each replica authenticates the user
// headers exactly as it would from kube-apiserver. A replica that refuses
// connections is skipped (the request goes to the next one); a request
// that reached a replica is never sent twice.
//
// Test and development only: the front is a trusted proxy on loopback.
type Replicas struct {
	// URLs are the replicas' own HTTPS addresses: the stack's gitgate first.
	URLs []string

	s            *Stack
	second       *process
	front        *http.Server
	served       []atomic.Int64
	next         atomic.Uint64
	originalPort string
}

// StartReplicas starts a second gitgate-apiserver with the stack's flags
// (its own ports) and points the APIService at a front that routes to both.
// Stop puts the stack back as it was.
func (s *Stack) StartReplicas(ctx context.Context) (*Replicas, error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	original, err := url.Parse(s.GitgateURL)
	if err != nil {
		return nil, err
	}
	r := &Replicas{s: s, originalPort: original.Port(), served: make([]atomic.Int64, 2),
		URLs: []string{s.GitgateURL, fmt.Sprintf("https://127.0.0.1:%d", ports[0])}}
	args := replicaArgs(s.gitgateArgs, map[string]string{
		"--secure-port": fmt.Sprint(ports[0]), "--admission-port": fmt.Sprint(ports[1]),
		"--receiver-port": fmt.Sprint(ports[2]), "--cert-dir": s.path("pki", "gitgate-generated-2"),
	})
	r.second, err = startProcess("gitgate-apiserver-2", s.path("logs"), s.bin("gitgate-apiserver"), args...)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, r.second)
	if err := writePIDs(s.opts.Dir, s.procs); err != nil {
		return nil, err
	}
	if err := r.startFront(ports[3]); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := waitFor(ctx, "the second gitgate-apiserver to be ready", s.procs, func(ctx context.Context) error {
		return s.readyz(ctx, r.URLs[1])
	}); err != nil {
		return nil, err
	}
	if err := r.routeAPIService(ctx, fmt.Sprint(ports[3])); err != nil {
		return nil, err
	}
	// Both replicas answer through kube-apiserver before this returns.
	if err := waitFor(ctx, "both replicas to answer through the APIService", s.procs, func(ctx context.Context) error {
		if _, err := s.Kubectl(ctx, ContextAdmin, "get", "environments", "-n", namespace); err != nil {
			return fmt.Errorf("%w: %v", errNotYet, err)
		}
		if served := r.Served(); served[0] == 0 || served[1] == 0 {
			return fmt.Errorf("%w: requests served %v", errNotYet, served)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// replicaArgs is args with the named flags' values replaced.
func replicaArgs(args []string, set map[string]string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if v, ok := set[name]; ok {
			a = name + "=" + v
		}
		out = append(out, a)
	}
	return out
}

// Served is how many requests each replica answered through the front.
func (r *Replicas) Served() []int64 {
	out := make([]int64, len(r.served))
	for i := range r.served {
		out[i] = r.served[i].Load()
	}
	return out
}

// KillSecond kills the second replica (SIGKILL) and waits until it is
// gone; the front then sends everything to the first.
func (r *Replicas) KillSecond() error {
	if err := r.second.exited(); err != nil {
		return err
	}
	if err := syscall.Kill(-r.second.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing the second gitgate-apiserver: %w", err)
	}
	<-r.second.done
	return r.forgetSecond() // a dead child the stack knows would fail its next wait
}

// forgetSecond removes the second replica from the stack's children.
func (r *Replicas) forgetSecond() error {
	kept := r.s.procs[:0]
	for _, p := range r.s.procs {
		if p != r.second {
			kept = append(kept, p)
		}
	}
	r.s.procs = kept
	return writePIDs(r.s.opts.Dir, r.s.procs)
}

// PauseSecond stops the second replica with SIGSTOP: it reads nothing
// from Git until ResumeSecond, so it will then take several commits in one
// refresh.
func (r *Replicas) PauseSecond() error { return r.signalSecond(syscall.SIGSTOP) }

// ResumeSecond continues a paused second replica.
func (r *Replicas) ResumeSecond() error { return r.signalSecond(syscall.SIGCONT) }

func (r *Replicas) signalSecond(sig syscall.Signal) error {
	if err := r.second.exited(); err != nil {
		return err
	}
	if err := syscall.Kill(-r.second.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signalling the second gitgate-apiserver (%v): %w", sig, err)
	}
	return nil
}

// Stop points the APIService back at the stack's gitgate, then stops the
// front and the second replica.
func (r *Replicas) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	forgotten := r.forgetSecond()
	err := r.routeAPIService(ctx, r.originalPort)
	_ = r.front.Close()
	r.second.stop(10 * time.Second)
	return errors.Join(forgotten, err)
}

// routeAPIService points the APIService's Service port at port and waits
// until it is Available again.
func (r *Replicas) routeAPIService(ctx context.Context, port string) error {
	if _, err := r.s.Kubectl(ctx, ContextAdmin, "patch", "apiservice", "v1alpha1.gitgate.dev", "--type=merge",
		"-p", `{"spec":{"service":{"port":`+port+`}}}`); err != nil {
		return err
	}
	return waitFor(ctx, "APIService v1alpha1.gitgate.dev on port "+port, r.s.procs, func(ctx context.Context) error {
		out, err := r.s.Kubectl(ctx, ContextAdmin, "get", "apiservice", "v1alpha1.gitgate.dev",
			"-o", `jsonpath={.spec.service.port} {.status.conditions[?(@.type=="Available")].status}`)
		if err != nil || strings.TrimSpace(out) != port+" True" {
			return fmt.Errorf("%w: %s %v", errNotYet, out, err)
		}
		return nil
	})
}

// startFront serves the front on 127.0.0.1:port.
func (r *Replicas) startFront(port int) error {
	serving, err := tls.LoadX509KeyPair(r.s.path("pki", "gitgate-apiserver.crt"), r.s.path("pki", "gitgate-apiserver.key"))
	if err != nil {
		return err
	}
	proxyClient, err := tls.LoadX509KeyPair(r.s.path("pki", "front-proxy-client.crt"), r.s.path("pki", "front-proxy-client.key"))
	if err != nil {
		return err
	}
	frontProxyCA, err := certPool(r.s.path("pki", "front-proxy-ca.crt"))
	if err != nil {
		return err
	}
	ca, err := certPool(r.s.CAFile)
	if err != nil {
		return err
	}
	backends := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{proxyClient}, RootCAs: ca, MinVersion: tls.VersionTLS12},
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.Out.URL.Scheme = "https" },
		Transport:     roundTripFunc(func(req *http.Request) (*http.Response, error) { return r.roundTrip(backends, req) }),
		FlushInterval: -1, // watches stream
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "no gitgate replica answered: "+err.Error(), http.StatusBadGateway)
		},
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	r.front = &http.Server{
		Handler:           proxy,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{serving}, ClientCAs: frontProxyCA,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
	}
	go func() { _ = r.front.ServeTLS(ln, "", "") }()
	return nil
}

// roundTrip sends req to the next replica, or to the one after when a
// replica refuses the connection (nothing of the request was sent).
func (r *Replicas) roundTrip(t *http.Transport, req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	start := r.next.Add(1)
	var errs []error
	for i := range len(r.URLs) {
		n := int((start + uint64(i)) % uint64(len(r.URLs)))
		u, _ := url.Parse(r.URLs[n])
		out := req.Clone(req.Context())
		out.URL.Host = u.Host
		if body != nil {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		resp, err := t.RoundTrip(out)
		if err == nil {
			r.served[n].Add(1)
			return resp, nil
		}
		errs = append(errs, err)
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			return nil, err // it may have reached the replica: never send it twice
		}
	}
	return nil, errors.Join(errs...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", file)
	}
	return pool, nil
}

// readyz checks a gitgate-apiserver's /readyz as the admin, straight
// (not through kube-apiserver).
func (s *Stack) readyz(ctx context.Context, server string) error {
	if out, err := s.Kubectl(ctx, ContextAdmin, "--server="+server, "get", "--raw", "/readyz"); err != nil || strings.TrimSpace(out) != "ok" {
		return fmt.Errorf("%w: %s %v", errNotYet, out, err)
	}
	return nil
}
