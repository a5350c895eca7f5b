// Package e2e drives the local stack (etcd, kube-apiserver, the fleet's Git
// server, gitgate-apiserver behind an APIService) through the real kubectl
// binary, the generated clientset and a git CLI clone.
package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitgate-dev/gitgate/internal/localstack"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
)

var stack *localstack.Stack

func TestMain(m *testing.M) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "gitgate-e2e-")
	if err != nil {
		panic(err)
	}
	stack, err = localstack.Start(context.Background(), localstack.Options{RepoRoot: root, Dir: dir, PollInterval: time.Second, FluxInterval: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the local stack:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code != 0 {
		for _, name := range []string{"gitgate-apiserver", "kube-apiserver"} {
			out, _ := exec.Command("tail", "-n", "40", stack.Logs(name)).Output()
			fmt.Fprintf(os.Stderr, "--- last lines of %s ---\n%s\n", name, out)
		}
	}
	stack.Stop()
	// Stopping leaves nothing behind: every child process is gone.
	if left := stack.Running(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "processes still running after Stop: %v\n", left)
		code = 1
	}
	if code == 0 {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// kubectl runs kubectl as a user and fails the test on error.
func kubectl(t testing.TB, user string, args ...string) string {
	t.Helper()
	out, err := stack.Kubectl(context.Background(), user, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kubectlFails runs kubectl and returns its output, failing the test if it succeeds.
func kubectlFails(t *testing.T, user string, stdin string, args ...string) string {
	t.Helper()
	out, err := stack.KubectlStdin(context.Background(), user, []byte(stdin), args...)
	if err == nil {
		t.Fatalf("kubectl %s succeeded, want an error:\n%s", strings.Join(args, " "), out)
	}
	return out
}

func createPromotion(t *testing.T, user, manifest string, extra ...string) string {
	t.Helper()
	out, err := stack.KubectlStdin(context.Background(), user, []byte(manifest), append([]string{"create", "-f", "-"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func promotionYAML(name, env, from string) string {
	spec := "environment: " + env
	if from != "" {
		spec += ", from: " + from
	}
	meta := "name: " + name
	if strings.HasSuffix(name, "-") {
		meta = "generateName: " + name
	}
	return fmt.Sprintf("apiVersion: gitgate.dev/v1alpha1\nkind: Promotion\nmetadata: {%s}\nspec: {%s}\n", meta, spec)
}

// restConfig is the client configuration of a kubeconfig context.
func restConfig(t testing.TB, user string) *rest.Config {
	t.Helper()
	cfg, err := stack.RESTConfig(user)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clientset returns a generated clientset acting as a kubeconfig context.
func clientset(t *testing.T, user string) *versioned.Clientset {
	t.Helper()
	cs, err := versioned.NewForConfig(restConfig(t, user))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// stackClient is an HTTPS client that trusts the stack's CA and presents
// no credentials (as a kubelet's probe or a Git host's webhook).
func stackClient(t *testing.T) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(stack.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("the stack's CA file holds no certificate")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// eventually polls check until it returns "" or the timeout passes.
func eventually(t testing.TB, what string, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if last = check(); last == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: still not true after %s: %s", what, timeout, last)
}
