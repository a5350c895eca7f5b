//go:build node

package node

import (
	"context"
	"strings"
	"testing"

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

// With no replica ready, the webhook's failurePolicy Fail keeps the door
// shut for people's changes to what Flux manages, while the namespaces
// that keep the cluster recoverable (kube-system, flux-system, gitgate's
// own) and objects nobody manages take changes; Flux still applies. Two
// replicas come back by scaling up, and the API answers again.
func TestWebhookWhileNoReplicaIsReady(t *testing.T) {
	ctx := context.Background()
	ns := localstack.ReleaseNamespace
	kubectl(t, "admin", "scale", "deployment", localstack.Release, "-n", ns, "--replicas=0")
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		kubectl(t, "admin", "scale", "deployment", localstack.Release, "-n", ns, "--replicas=2")
		eventually(t, "two replicas ready again and the API answering", 3*minute, func() string {
			if r, _ := stack.Kubectl(ctx, "admin", "get", "deployment", localstack.Release, "-n", ns, "-o", "jsonpath={.status.readyReplicas}"); strings.TrimSpace(r) != "2" {
				return "ready replicas " + r
			}
			if out, err := stack.Kubectl(ctx, "alice", "get", "environment", "prod", "-n", "shop"); err != nil {
				return out
			}
			return ""
		})
	}
	t.Cleanup(restore)
	eventually(t, "no gitgate pod left", 2*minute, func() string {
		if out, _ := stack.Kubectl(ctx, "admin", "get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=gitgate", "-o", "name"); strings.TrimSpace(out) != "" {
			return out
		}
		return ""
	})

	before := kubectl(t, "admin", "get", "deployment", "app", "-n", "shop-prod", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	out, err := stack.Kubectl(ctx, "alice", "set", "image", "deployment/app", "app=registry.example.com/app:by-hand", "-n", "shop-prod")
	if err == nil || !strings.Contains(out, "failed calling webhook") {
		t.Errorf("alice's change to a managed Deployment while gitgate is down: %v\n%s\nwant refused (failurePolicy Fail)", err, out)
	}
	if after := kubectl(t, "admin", "get", "deployment", "app", "-n", "shop-prod", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); after != before {
		t.Errorf("shop-prod's app changed from %s to %s while gitgate was down", before, after)
	}
	for _, n := range []string{"kube-system", "flux-system", ns, "default"} {
		if out, err := stack.Kubectl(ctx, "admin", "create", "configmap", "while-gitgate-is-down", "-n", n); err != nil {
			t.Errorf("creating a ConfigMap in %s while gitgate is down: %v\n%s", n, err, out)
		}
		_, _ = stack.Kubectl(ctx, "admin", "delete", "configmap", "while-gitgate-is-down", "-n", n)
	}
	if out, err := stack.Kubectl(ctx, "alice", "get", "environments", "-n", "shop"); err == nil {
		t.Errorf("gitgate.dev answered with no replica:\n%s", out)
	}
	// Flux is an applier: its reconciliations go on.
	kubectl(t, "admin", "annotate", "--overwrite", "kustomization", "apps-prod", "-n", "flux-system", "reconcile.fluxcd.io/requestedAt=while-gitgate-is-down")
	eventually(t, "Flux reconciling apps-prod while gitgate is down", 2*minute, func() string {
		out, _ := stack.Kubectl(ctx, "admin", "get", "kustomization", "apps-prod", "-n", "flux-system",
			"-o", `jsonpath={.status.lastHandledReconcileAt} {.status.conditions[?(@.type=="Ready")].status}`)
		if strings.TrimSpace(out) != "while-gitgate-is-down True" {
			return out
		}
		return ""
	})
	restore()
}
