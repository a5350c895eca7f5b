package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

// statusWriters lets the teams write status and ephemeral containers in
// shop-prod, as some roles do: RBAC is not what must stop them.
const statusWriters = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: status-writers, namespace: shop-prod}
rules:
- {apiGroups: [apps], resources: [deployments/status], verbs: [get, patch, update]}
- {apiGroups: [""], resources: [services/status, pods/ephemeralcontainers], verbs: [get, patch, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: status-writers, namespace: shop-prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: status-writers}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: shop-developers}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: shop-release-managers}
`

// objectState is what a refused change must leave as it was: the object's
// generation (which any spec change moves), labels, annotations,
// ownerReferences, finalizers, deletion mark and spec. Its resourceVersion
// is not compared: the controllers write status on their own time (a new
// Deployment's rollout, a scale), and status is not what is guarded here.
func objectState(t *testing.T, kind, name, namespace string) string {
	t.Helper()
	return kubectl(t, "admin", "get", kind, name, "-n", namespace, "-o",
		"jsonpath={.metadata.generation} {.metadata.labels} {.metadata.annotations} {.metadata.ownerReferences} {.metadata.finalizers} {.metadata.deletionTimestamp} {.spec}")
}

// TestBypassAdmissionRoutesAreRefused tries, as alice, bob and admin, the
// routes around the admission policy that do not change the managed object
// head-on: through its status subresource, or through the objects it
// controls. Each is refused, and the object it aimed at is unchanged.
func TestBypassAdmissionRoutesAreRefused(t *testing.T) {
	app := setupAdmission(t)
	ctx := context.Background()
	if out, err := stack.KubectlStdin(ctx, "admin", []byte(statusWriters), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("granting status writes: %v\n%s", err, out)
	}
	t.Cleanup(func() { // no later test inherits the grant
		if out, err := stack.KubectlStdin(ctx, "admin", []byte(statusWriters), "delete", "--ignore-not-found", "-f", "-"); err != nil {
			t.Errorf("revoking status writes: %v\n%s", err, out)
		}
	})
	svc := newManagedService(t)
	rs, pod := derivedOf(t, app)
	type route struct {
		name         string
		kind, target string // the object that must stay unchanged
		args         []string
		derived      bool // needs the webhook: CEL cannot follow ownerReferences
	}
	routes := []route{
		{"disables reconcile with a label through status", "service", svc,
			[]string{"patch", "service", svc, "--subresource=status", "--type=merge", "-p", `{"metadata":{"labels":{"kustomize.toolkit.fluxcd.io/reconcile":"disabled"}}}`}, false},
		{"disables reconcile with an annotation through status", "deployment", app,
			[]string{"patch", "deployment", app, "--subresource=status", "--type=merge", "-p", `{"metadata":{"annotations":{"kustomize.toolkit.fluxcd.io/reconcile":"disabled"}}}`}, false},
		{"removes the Flux label through status", "service", svc,
			[]string{"patch", "service", svc, "--subresource=status", "--type=json", "-p", `[{"op":"remove","path":"/metadata/labels/kustomize.toolkit.fluxcd.io~1name"}]`}, false},
		{"annotates a Service through status", "service", svc,
			[]string{"patch", "service", svc, "--subresource=status", "--type=merge", "-p", `{"metadata":{"annotations":{"kustomize.toolkit.fluxcd.io/reconcile":"disabled"}}}`}, false},
		{"sets the image of a Pod of the managed Deployment", "pod", pod,
			[]string{"set", "image", "pod/" + pod, "app=evil:1"}, true},
		{"adds an ephemeral container to a Pod of the managed Deployment", "pod", pod,
			[]string{"patch", "pod", pod, "--subresource=ephemeralcontainers", "--type=strategic", "-p", `{"spec":{"ephemeralContainers":[{"name":"debugger","image":"busybox","targetContainerName":"app"}]}}`}, true},
		{"relabels a Pod out of its ReplicaSet", "pod", pod,
			[]string{"label", "pod", pod, "app=escaped", "--overwrite"}, true},
		{"takes a Pod out of its ReplicaSet's ownership", "pod", pod,
			[]string{"patch", "pod", pod, "--type=json", "-p", `[{"op":"remove","path":"/metadata/ownerReferences"}]`}, true},
		{"deletes a Pod of the managed Deployment", "pod", pod,
			[]string{"delete", "pod", pod, "--wait=false"}, true},
		{"sets the image of a ReplicaSet of the managed Deployment", "replicaset", rs,
			[]string{"set", "image", "replicaset/" + rs, "app=evil:1"}, true},
		{"deletes a ReplicaSet of the managed Deployment", "replicaset", rs,
			[]string{"delete", "replicaset", rs, "--wait=false"}, true},
	}
	inEachMode(t, func(t *testing.T, mode string) {
		for _, r := range routes {
			if r.derived && mode == localstack.AdmissionPolicy {
				continue
			}
			for _, user := range []string{"alice", "bob", "admin"} {
				t.Run("denied: "+user+" "+r.name, func(t *testing.T) {
					before := objectState(t, r.kind, r.target, "shop-prod")
					out := kubectlFails(t, user, "", append(r.args, "-n", "shop-prod")...)
					want := []string{"by " + user + " refused", "managed by Flux Kustomization flux-system/apps-prod"}
					if r.derived {
						want = append(want, "it is controlled by Deployment shop-prod/"+app+", which is managed by",
							"gitgate environment prod (namespace shop) holds it in overlays/prod")
					}
					for _, s := range want {
						if !strings.Contains(out, s) {
							t.Errorf("refusal lacks %q:\n%s", s, out)
						}
					}
					if after := objectState(t, r.kind, r.target, "shop-prod"); after != before {
						t.Fatalf("a refused change reached %s %s:\nbefore %s\nafter  %s", r.kind, r.target, before, after)
					}
				})
			}
		}
	})
	// What still passes: a status write that changes only status, and
	// bob's break-glass on a derived Pod, as on its Deployment.
	kubectl(t, "alice", "patch", "deployment", app, "-n", "shop-prod", "--subresource=status", "--type=merge", "-p", `{"status":{"collisionCount":0}}`)
	out := kubectlFails(t, "alice", "", "annotate", "pod", pod, "-n", "shop-prod", "gitgate.dev/break-glass=INC-11 debug")
	if !strings.Contains(out, `alice may not use the "breakglass" verb`) {
		t.Errorf("alice's break-glass on a derived Pod: %s", out)
	}
	if out := kubectl(t, "bob", "annotate", "pod", pod, "-n", "shop-prod", "gitgate.dev/break-glass=INC-11 debug"); !strings.Contains(out, "break-glass change by bob") {
		t.Errorf("bob's break-glass on a derived Pod carries no warning:\n%s", out)
	}
}
