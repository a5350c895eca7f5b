//go:build node

package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

const minute = time.Minute

// chartImage is the image the chart runs by default (hack/images imports it
// under this name): repository and appVersion.
const chartImage = "ghcr.io/gitgate-dev/gitgate-apiserver:0.1.0"

// gitgatePods lists the release's pods as "name phase ready image node".
func gitgatePods(t testing.TB) []string {
	t.Helper()
	out := kubectl(t, "admin", "get", "pods", "-n", localstack.ReleaseNamespace, "-l", "app.kubernetes.io/name=gitgate",
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.spec.containers[0].image} {.spec.nodeName}{"\n"}{end}`)
	return strings.Split(strings.TrimSpace(out), "\n")
}

// The chart, installed with helm as a user installs it, runs two replicas
// from its image on the node; kube-apiserver reaches them through the
// Service for the API (aggregator) and the webhook, with the chart's own
// TLS; a promotion made through the aggregator is pushed to Git from a
// pod, and Flux runs its image in the environment's pods.
func TestChartInstalledWithHelmRunsInPods(t *testing.T) {
	ctx := context.Background()
	if v := kubectl(t, "admin", "get", "node", localstack.NodeName, "-o", "jsonpath={.status.nodeInfo.kubeletVersion}"); v != "v1.37.2" {
		t.Errorf("the node's kubelet reports %q, want v1.37.2 (version link flags)", v)
	}
	if out, err := stack.Helm(ctx, "status", localstack.Release, "-n", localstack.ReleaseNamespace); err != nil || !strings.Contains(out, "STATUS: deployed") {
		t.Fatalf("helm status: %v\n%s", err, out)
	}
	if ready := kubectl(t, "admin", "get", "deployment", localstack.Release, "-n", localstack.ReleaseNamespace, "-o", "jsonpath={.status.readyReplicas}/{.spec.replicas}"); ready != "2/2" {
		t.Errorf("deployment %s ready replicas %s, want 2/2", localstack.Release, ready)
	}
	pods := gitgatePods(t)
	if len(pods) != 2 {
		t.Fatalf("release pods: %q, want two", pods)
	}
	for _, p := range pods {
		f := strings.Fields(p)
		if len(f) != 5 || f[1] != "Running" || f[2] != "True" || f[3] != chartImage || f[4] != localstack.NodeName {
			t.Errorf("pod %q: want Running, Ready, image %s, on %s", p, chartImage, localstack.NodeName)
		}
	}

	// The API and the webhook go through the chart's Service, with the
	// chart's CA; nothing points at loopback.
	if svc := kubectl(t, "admin", "get", "apiservice", "v1alpha1.gitgate.dev", "-o",
		`jsonpath={.spec.service.namespace}/{.spec.service.name}:{.spec.service.port} {.status.conditions[?(@.type=="Available")].status} insecure={.spec.insecureSkipTLSVerify}`); svc != "gitgate-system/gitgate:443 True insecure=" {
		t.Errorf("APIService: %q, want through Service gitgate-system/gitgate:443, Available, TLS verified", svc)
	}
	if hook := kubectl(t, "admin", "get", "validatingwebhookconfiguration", localstack.Release, "-o",
		`jsonpath={range .webhooks[*]}{.clientConfig.service.name}:{.clientConfig.service.port}{.clientConfig.url} {.failurePolicy}{"\n"}{end}`); !strings.HasPrefix(hook, "gitgate:9443 Fail") || strings.Contains(hook, "https://") {
		t.Errorf("webhooks: %q, want each through Service gitgate:9443, failurePolicy Fail", hook)
	}
	if eps := kubectl(t, "admin", "get", "endpointslices", "-n", localstack.ReleaseNamespace, "-l", "kubernetes.io/service-name="+localstack.Release,
		"-o", `jsonpath={range .items[*].endpoints[*]}{.addresses[0]} {.conditions.ready}{"\n"}{end}`); strings.Count(eps, "10.244.0.") != 2 || strings.Contains(eps, "false") {
		t.Errorf("Service endpoints: %q, want both pods' addresses, ready", eps)
	}

	// A promotion through the aggregator: alice promotes dev into test.
	devTag := kubectl(t, "alice", "get", "environment", "dev", "-n", "shop", "-o", `jsonpath={.status.images[?(@.name=="app")].tag}`)
	out, err := stack.KubectlPlugin(ctx, "alice", "create", "promotion", "--to", "test", "-n", "shop", "-o", "name", "--wait=150s")
	if err != nil {
		t.Fatalf("kubectl create promotion --to test: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "promotion.gitgate.dev/") {
		t.Fatalf("kubectl create promotion printed %q", out)
	}
	// The webhook answers kube-apiserver through the Service: a person's
	// change to what Flux manages is refused with gitgate's message.
	if out, err := stack.Kubectl(ctx, "alice", "set", "image", "deployment/app", "app=registry.example.com/app:by-hand", "-n", "shop-test"); err == nil || !strings.Contains(out, "denied the request") {
		t.Errorf("alice changed a managed Deployment by hand: %v\n%s", err, out)
	}
	waitForPodsRunning(t, "test", localstack.AppImage+":"+devTag)
}

// waitForPodsRunning waits until every pod of shop-<env>'s app runs image
// for container app, ready, and the Deployment is Available. (The pod's
// spec names the tag: the container status may name another tag of the
// same image, as every tag of the example app is one image.)
func waitForPodsRunning(t testing.TB, env, image string) {
	t.Helper()
	eventually(t, "shop-"+env+" running "+image+" in pods", 3*minute, func() string {
		out, _ := stack.Kubectl(context.Background(), "admin", "get", "pods", "-n", "shop-"+env, "-l", "app=app",
			"-o", `jsonpath={range .items[*]}{.spec.containers[?(@.name=="app")].image} {.status.containerStatuses[?(@.name=="app")].ready} {.metadata.deletionTimestamp}{"\n"}{end}`)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, l := range lines {
			if strings.TrimSpace(l) != image+" true" {
				return out
			}
		}
		if available, _ := stack.Kubectl(context.Background(), "admin", "get", "deployment", "app", "-n", "shop-"+env,
			"-o", `jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.updatedReplicas}/{.status.replicas}`); strings.TrimSpace(available) != "True 1/1" {
			return "deployment: " + available
		}
		return ""
	})
}
