package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TestOversizedWritesAre413 sends a Promotion larger than gitgate's body
// limit (2 MiB) but under kube-apiserver's own (3 MiB), through the
// aggregator: gitgate answers 413, and nothing reaches Git or the API.
func TestOversizedWritesAre413(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fleet := newFleet(t)
	before := fleet.head()
	name := fmt.Sprintf("oversized-%d", time.Now().UnixNano()%1000000)
	padding := strings.Repeat("x", 5<<19) // 2.5 MiB
	body := fmt.Sprintf(`{"apiVersion":"gitgate.dev/v1alpha1","kind":"Promotion","metadata":{"name":%q,"annotations":{"padding":%q}},"spec":{"environment":"prod","from":"test"}}`, name, padding)

	bob := clientset(t, "bob")
	err := bob.GitgateV1alpha1().RESTClient().Post().AbsPath("/apis/gitgate.dev/v1alpha1/namespaces/"+fleet.ns+"/promotions").
		SetHeader("Content-Type", "application/json").Body([]byte(body)).Do(ctx).Error()
	if !apierrors.IsRequestEntityTooLargeError(err) {
		t.Fatalf("a 2.5 MiB promotion: %v, want 413 Request Entity Too Large", err)
	}
	if _, err := bob.GitgateV1alpha1().Promotions(fleet.ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the refused promotion exists: %v", err)
	}
	if after := fleet.head(); after != before {
		t.Fatalf("Git moved from %s to %s on a refused promotion", before, after)
	}
}

// TestTheLargestSealedSecretFitsTheLimit seals a Secret of nearly 1 MiB,
// the most Kubernetes stores, and runs it through every server check: the
// body limit leaves room for it.
func TestTheLargestSealedSecretFitsTheLimit(t *testing.T) {
	ctx := context.Background()
	blob := make([]byte, 1000<<10)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(file, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	secret := kubectl(t, "bob", "create", "secret", "generic", "large", "--from-file=blob="+file, "--dry-run=client", "-o", "yaml")
	out, err := stack.KubectlPluginStdin(ctx, "bob", []byte(secret), "gitgate", "seal", "--environment", "prod", "-n", "shop", "--dry-run=server")
	if err != nil {
		t.Fatalf("sealing a 1000 KiB Secret (server dry run): %v\n%.2000s", err, out)
	}
}

// TestASlowClientIsCutOff opens a request to the push-webhook receiver and
// never sends its body: the server ends it (ReadTimeout) rather than hold
// the connection and its goroutine for ever.
func TestASlowClientIsCutOff(t *testing.T) {
	t.Parallel() // it waits on the receiver's timeout and shares no state
	u, err := url.Parse(stack.ReceiverURL)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(stack.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", u.Host, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nX-Gitlab-Token: slow\r\nContent-Length: 100\r\n\r\n{", u.Path, u.Host); err != nil {
		t.Fatal(err)
	}
	// The server's ReadTimeout is 30s; give it some slack, then fail.
	if err := conn.SetReadDeadline(time.Now().Add(45 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("the server still holds a request whose body never came, after %s", time.Since(start).Round(time.Second))
	}
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("status %d for a request whose body never came", resp.StatusCode)
		}
	}
	t.Logf("the server ended the slow request after %s (%v)", time.Since(start).Round(time.Second), err)
}

// TestMadeUpEnvironmentsAddNoMetricSeries promotes into environments that
// do not exist: each is counted, under "other", and none becomes a series.
func TestMadeUpEnvironmentsAddNoMetricSeries(t *testing.T) {
	prefix := fmt.Sprintf("made-up-%d-", time.Now().UnixNano()%1000000)
	for i := 0; i < 3; i++ {
		kubectlFails(t, "alice", promotionYAML(fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("%s%d", prefix, i), ""), "create", "-f", "-", "-n", "shop")
	}
	client, err := rest.HTTPClientFor(restConfig(t, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(stack.GitgateURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	metrics := string(body)
	if !strings.Contains(metrics, `gitgate_promotions_total{environment="other",namespace="shop",result="forbidden"}`) {
		t.Errorf("/metrics does not count the refused promotions under other:\n%s", grepLines(metrics, "gitgate_promotions_total"))
	}
	if strings.Contains(metrics, prefix) {
		t.Errorf("/metrics holds made-up environment names:\n%s", grepLines(metrics, prefix))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
