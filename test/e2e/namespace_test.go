package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

func TestConfigReloadAndNamespaceDeletionLeaveGitAlone(t *testing.T) {
	fleet := cloneFleet(t)
	before := fleet.head()

	// Bind a second namespace to the fleet: the server reloads its configuration.
	if err := stack.BindNamespaces("shop", "shop-preview"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stack.BindNamespaces("shop") }()
	kubectl(t, "admin", "create", "namespace", "shop-preview")
	eventually(t, "shop-preview lists the fleet's environments", 30*time.Second, func() string {
		out, _ := stack.Kubectl(context.Background(), "admin", "get", "environments", "-n", "shop-preview", "-o", "name")
		if !strings.Contains(out, "environment.gitgate.dev/prod") {
			return out
		}
		return ""
	})

	// Deleting the namespace completes (the namespace controller lists and
	// delete-collects gitgate's resources there) and deletes nothing in Git.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if out, err := stack.Kubectl(ctx, "admin", "delete", "namespace", "shop-preview", "--wait=true", "--timeout=80s"); err != nil {
		t.Fatalf("namespace deletion did not complete: %v\n%s", err, out)
	}
	if after := fleet.head(); after != before {
		t.Fatalf("deleting a namespace changed Git: main moved from %s to %s", before, after)
	}
	if out := kubectl(t, "alice", "get", "environments", "-n", "shop", "-o", "name"); strings.Count(out, "environment.gitgate.dev/") < 3 {
		t.Fatalf("shop lost environments:\n%s", out)
	}
}

func TestServerReportsReadinessAndMetrics(t *testing.T) {
	cfg := restConfig(t, "admin")
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		t.Helper()
		resp, err := client.Get(stack.GitgateURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
		}
		return string(body)
	}
	eventually(t, "/readyz reports the repositories read", 30*time.Second, func() string {
		resp, err := client.Get(stack.GitgateURL + "/readyz?verbose")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "[+]gitgate-repositories ok") {
			return resp.Status + ": " + string(body)
		}
		return ""
	})
	get("/livez")
	// The chart's probes come from the kubelet, without credentials: the
	// health endpoints answer anyone; /metrics does not.
	anonymous := stackClient(t)
	for path, want := range map[string]int{"/readyz": http.StatusOK, "/livez": http.StatusOK, "/metrics": http.StatusForbidden} {
		resp, err := anonymous.Get(stack.GitgateURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("anonymous GET %s: %s, want %d", path, resp.Status, want)
		}
	}
	fleet := cloneFleet(t)
	fleet.setTag("dev", "development-12.")
	createPromotion(t, "alice", promotionYAML("metered", "test", ""), "-n", "shop")
	metrics := get("/metrics")
	for _, s := range []string{
		`gitgate_promotions_total{environment="test",namespace="shop",result="Succeeded"}`,
		`gitgate_git_operation_duration_seconds_count{operation="push",outcome="ok",repository="shop-fleet"}`,
		`gitgate_git_operation_duration_seconds_count{operation="fetch",outcome="ok",repository="shop-fleet"}`,
		`apiserver_request_total`,
	} {
		if !strings.Contains(metrics, s) {
			t.Errorf("/metrics lacks %s", s)
		}
	}
}
