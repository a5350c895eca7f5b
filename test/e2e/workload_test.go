package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Each admission test changes a managed workload of its own: a Deployment
// (and, where a test needs one, a Service) that Flux's applier creates in
// shop-prod with the labels of Kustomization apps-prod, so gitgate names
// environment prod as its owner. It is in no Kustomization's inventory, so
// live Flux never reverts, takes over or prunes it while the test runs,
// and no break-glass annotation, image or scale a test gives it is seen by
// another test. The real shop-prod/app stays Flux's alone (flux_test.go).

// workloadCounter keeps workload names unique within one run.
var workloadCounter atomic.Int64

// uniqueName is prefix and a suffix no other test of this run uses.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%s%d", prefix, strconv.FormatInt(time.Now().UnixNano()%(1<<30), 36), workloadCounter.Add(1))
}

// managedDeploymentYAML is what Flux's kustomize-controller would apply
// for a Deployment name of prod: its Pods carry the label app=name, so no
// other Deployment's ReplicaSets select them.
func managedDeploymentYAML(name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: shop-prod
  labels:
    kustomize.toolkit.fluxcd.io/name: apps-prod
    kustomize.toolkit.fluxcd.io/namespace: flux-system
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec: {containers: [{name: app, image: %[2]q}]}
`, name, image)
}

// managedServiceYAML is a Service name that Flux would apply into prod.
// A Service's status strategy keeps labels (a Deployment's puts the stored
// ones back, not its annotations), so it is where a label change through
// status would stick.
func managedServiceYAML(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: shop-prod
  labels:
    kustomize.toolkit.fluxcd.io/name: apps-prod
    kustomize.toolkit.fluxcd.io/namespace: flux-system
spec:
  selector: {app: %[1]s}
  ports: [{port: 80}]
`, name)
}

// fluxApplies applies manifest as Flux's kustomize-controller does:
// server-side, with its field manager, as its ServiceAccount.
func fluxApplies(t *testing.T, manifest string) {
	t.Helper()
	if out, err := stack.KubectlStdin(context.Background(), "admin", []byte(manifest), "apply", "--server-side", "--force-conflicts",
		"--field-manager=kustomize-controller", "--as="+fluxApplier, "-f", "-"); err != nil {
		t.Fatalf("Flux's apply was refused: %v\n%s", err, out)
	}
}

// fluxDeletesAtCleanup deletes an object as Flux's applier (whom the
// webhook admits, as it admits Flux's prune) once the test is over.
func fluxDeletesAtCleanup(t *testing.T, kind, name string) {
	t.Cleanup(func() {
		if out, err := stack.Kubectl(context.Background(), "admin", "delete", kind, name, "-n", "shop-prod",
			"--ignore-not-found", "--wait=false", "--as="+fluxApplier); err != nil {
			t.Errorf("deleting the test's %s %s: %v\n%s", kind, name, err, out)
		}
	})
}

// newManagedApp creates a managed Deployment of prod for this test alone,
// deleted when the test ends, and returns its name.
func newManagedApp(t *testing.T) string {
	t.Helper()
	name := uniqueName("app")
	fluxApplies(t, managedDeploymentYAML(name, "registry.example.com/app:version-1.2.2"))
	fluxDeletesAtCleanup(t, "deployment", name)
	return name
}

// newManagedService creates a managed Service of prod for this test alone,
// deleted when the test ends, and returns its name.
func newManagedService(t *testing.T) string {
	t.Helper()
	name := uniqueName("svc")
	fluxApplies(t, managedServiceYAML(name))
	fluxDeletesAtCleanup(t, "service", name)
	return name
}

// derivedOf returns a ReplicaSet and a Pod that kube-controller-manager
// made for the managed Deployment app in shop-prod, once the controllers
// are done with it. The stack has no kubelet: the Pod never runs, but it
// is there to be changed.
func derivedOf(t *testing.T, app string) (replicaSet, pod string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, "kube-controller-manager makes a ReplicaSet and a Pod of deployment "+app, 60*time.Second, func() string {
		d, _ := stack.Kubectl(ctx, "admin", "get", "deployment", app, "-n", "shop-prod", "-o", "jsonpath={.metadata.generation} {.status.observedGeneration}")
		if f := strings.Fields(d); len(f) != 2 || f[0] != f[1] {
			return "deployment generation, observed: " + d
		}
		rsList, _ := stack.Kubectl(ctx, "admin", "get", "replicasets", "-n", "shop-prod", "-l", "app="+app, "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.metadata.ownerReferences[0].name}{"\n"}{end}`)
		replicaSet = ""
		for _, line := range strings.Split(rsList, "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[1] == app {
				replicaSet = f[0]
			}
		}
		pods, _ := stack.Kubectl(ctx, "admin", "get", "pods", "-n", "shop-prod", "-l", "app="+app, "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.metadata.ownerReferences[0].name} {.metadata.deletionTimestamp}{"\n"}{end}`)
		pod = ""
		for _, line := range strings.Split(pods, "\n") {
			if f := strings.Fields(line); len(f) == 2 && replicaSet != "" && f[1] == replicaSet {
				pod = f[0]
			}
		}
		if replicaSet == "" || pod == "" {
			return "replicasets:\n" + rsList + "pods:\n" + pods
		}
		return ""
	})
	return replicaSet, pod
}
