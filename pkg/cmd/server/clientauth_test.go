package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"

	"github.com/gitgate-dev/gitgate/internal/pki"
)

func issue(t *testing.T, ca *pki.CA, req pki.Request) tls.Certificate {
	t.Helper()
	pair, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// The webhook listener with --admission-client-ca-file answers only a
// client certificate from that CA with an allowed name: the TLS handshake
// fails for everyone else, before any AdmissionReview is read.
func TestWebhookListenerAuthenticatesItsCaller(t *testing.T) {
	clusterCA, err := pki.NewCA("cluster-ca")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := pki.NewCA("someone-elses-ca")
	if err != nil {
		t.Fatal(err)
	}
	serving, err := clusterCA.Issue(pki.Request{CommonName: "gitgate", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	if err := os.WriteFile(caFile, clusterCA.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := &AdmissionOptions{ClientCAFile: caFile, ClientAllowedNames: []string{"kube-apiserver-webhook-client"}}
	clients, err := opts.clientAuthentication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := dynamiccertificates.NewStaticCertKeyContent("serving", serving.CertPEM, serving.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var reviews atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reviews.Add(1); _, _ = w.Write([]byte("answered")) })
	if err := serveTLS(ctx, "test webhook", addr, handler, provider, clients); err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AddCert(clusterCA.Cert)
	cases := []struct {
		name    string
		certs   []tls.Certificate
		refused string
	}{
		{"refused: no client certificate", nil, "certificate required"},
		{"refused: a certificate from another CA", []tls.Certificate{issue(t, otherCA, pki.Request{CommonName: "kube-apiserver-webhook-client", Client: true})}, "bad certificate"},
		{"refused: a user's certificate from the right CA (alice)", []tls.Certificate{issue(t, clusterCA, pki.Request{CommonName: "alice", Client: true})}, "bad certificate"},
		{"refused: the right name on a serving certificate", []tls.Certificate{issue(t, clusterCA, pki.Request{CommonName: "kube-apiserver-webhook-client", Server: true})}, "bad certificate"},
		{"answered: kube-apiserver's client certificate", []tls.Certificate{issue(t, clusterCA, pki.Request{CommonName: "kube-apiserver-webhook-client", Client: true})}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := reviews.Load()
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: tc.certs}}}
			var resp *http.Response
			var err error
			for i := 0; i < 50; i++ { // the listener starts in the background
				resp, err = client.Post(fmt.Sprintf("https://%s/validate", addr), "application/json", strings.NewReader("{}"))
				if err == nil || !strings.Contains(err.Error(), "connection refused") {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || reviews.Load() != before+1 {
					t.Fatalf("HTTP %d, %d reviews read", resp.StatusCode, reviews.Load()-before)
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("answered with HTTP %d, want a refused handshake", resp.StatusCode)
			}
			if !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("error %q does not say %q", err, tc.refused)
			}
			if reviews.Load() != before {
				t.Errorf("the handler read %d requests", reviews.Load()-before)
			}
		})
	}
}
