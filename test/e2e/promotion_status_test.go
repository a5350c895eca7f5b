package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// createdName reads the promotion's name from `-o name` output
// (promotion.gitgate.dev/<name>, first line).
func createdName(t *testing.T, out string) string {
	t.Helper()
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	name, ok := strings.CutPrefix(first, "promotion.gitgate.dev/")
	if !ok {
		t.Fatalf("no promotion name in:\n%s", out)
	}
	return name
}

// promotionCondition reads one condition of a promotion as alice sees it.
func promotionCondition(t *testing.T, name, conditionType string) (*metav1.Condition, *v1alpha1.Promotion) {
	t.Helper()
	p, err := clientset(t, "alice").GitgateV1alpha1().Promotions("shop").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return apimeta.FindStatusCondition(p.Status.Conditions, conditionType), p
}

// promotionEvents lists the reasons of the Events on a promotion.
func promotionEvents(t *testing.T, name string) string {
	out, _ := stack.Kubectl(context.Background(), "admin", "get", "events", "-n", "shop",
		"--field-selector", "involvedObject.kind=Promotion,involvedObject.name="+name, "-o", "jsonpath={.items[*].reason}")
	return out
}

// A promotion follows its commit to the cluster: --wait returns once Flux
// applied it, the Deployment carries the image by then, the Promotion says
// Applied (and Healthy) with appliedAt, kubectl get shows it, kubectl wait
// returns on a promotion still in flight, and Events tell kubectl describe.
func TestPromotionReachesAppliedWithFlux(t *testing.T) {
	admissionRBAC(t)
	fleet := cloneFleet(t)
	tag := fleet.setTag("test", "version-61.")

	out, err := plugin("bob", "create", "promotion", "--to", "prod", "-n", "shop", "-o", "name", "--wait=90s")
	if err != nil {
		t.Fatalf("kubectl create promotion --wait: %v\n%s", err, out)
	}
	name := createdName(t, out)
	if !strings.Contains(out, "promotion "+name+": Applied: Flux Kustomization flux-system/apps-prod applied main@sha1:") {
		t.Errorf("--wait did not report Flux's apply:\n%s", out)
	}
	// Applied means applied: the Deployment carries the image already.
	if got := prodImage(t); got != "registry.example.com/app:"+tag {
		t.Errorf("--wait returned with shop-prod running %s, want tag %s", got, tag)
	}
	applied, p := promotionCondition(t, name, v1alpha1.ConditionApplied)
	if applied == nil || applied.Status != metav1.ConditionTrue || applied.Reason != v1alpha1.ReasonApplied || p.Status.AppliedAt == nil {
		t.Fatalf("promotion %s after --wait: Applied %+v, appliedAt %v", name, applied, p.Status.AppliedAt)
	}
	if p.Status.AppliedAt.Before(p.Status.Time) {
		t.Errorf("appliedAt %s is before the commit at %s", p.Status.AppliedAt, p.Status.Time)
	}
	eventually(t, name+" is Healthy (apps-prod has no health checks, so Ready is enough)", fluxWait, func() string {
		if c, _ := promotionCondition(t, name, v1alpha1.ConditionHealthy); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Sprintf("%+v", c)
		}
		return ""
	})
	table := kubectl(t, "alice", "get", "promotion", name, "-n", "shop")
	if lines := strings.Split(table, "\n"); len(lines) < 2 || !strings.Contains(lines[0], "APPLIED") || !strings.Contains(lines[1], " True ") {
		t.Errorf("kubectl get promotions does not show it applied:\n%s", table)
	}
	eventually(t, "Events Applied and Healthy on "+name, 30*time.Second, func() string {
		if got := promotionEvents(t, name); !strings.Contains(got, "Applied") || !strings.Contains(got, "Healthy") {
			return got
		}
		return ""
	})

	// kubectl wait on a promotion Flux has not applied yet: the watch must
	// send the promotion again when the Kustomization's status moves.
	fleet.setTag("test", "version-62.")
	out, err = plugin("bob", "create", "promotion", "--to", "prod", "-n", "shop", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	second := createdName(t, out)
	if c, _ := promotionCondition(t, second, v1alpha1.ConditionApplied); c == nil || c.Status == metav1.ConditionTrue {
		t.Fatalf("promotion %s is Applied the moment it is made: %+v", second, c)
	}
	if out, err := stack.Kubectl(context.Background(), "alice", "wait", "--for=condition=Applied", "promotion/"+second, "-n", "shop", "--timeout=90s"); err != nil {
		t.Fatalf("kubectl wait --for=condition=Applied: %v\n%s", err, out)
	}
}

// A promotion whose revision Flux cannot make healthy ends Failed with
// Flux's reason, and --wait exits non-zero saying so.
func TestPromotionIntoAFailingKustomizationEndsFailed(t *testing.T) {
	admissionRBAC(t)
	ctx := context.Background()
	fleet := cloneFleet(t)
	env := fmt.Sprintf("canary-%d", time.Now().UnixNano()%100000)
	ns := "shop-" + env
	kubectl(t, "admin", "create", "namespace", ns)
	t.Cleanup(func() { _, _ = stack.Kubectl(ctx, "admin", "delete", "namespace", ns, "--wait=false") })
	if err := os.MkdirAll(filepath.Join(fleet.dir, "overlays", env), 0o755); err != nil {
		t.Fatal(err)
	}
	fleet.commitFiles("Add the "+env+" overlay", map[string]string{
		"overlays/" + env + "/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + ns +
			"\nresources:\n- ../../base\nimages:\n- name: app\n  newName: registry.example.com/app\n  newTag: version-0.0.1\n- name: proxy\n  newName: registry.example.com/proxy\n  newTag: \"0.9\"\n",
	})
	// Its health check waits for a Deployment to be available, which no Pod
	// on this process-only stack ever makes it: Flux reports HealthCheckFailed.
	kustomization := fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps-%s, namespace: flux-system}
spec:
  sourceRef: {kind: GitRepository, name: fleet}
  path: ./overlays/%s
  interval: 2s
  retryInterval: 2s
  timeout: 4s
  prune: true
  healthChecks:
  - {apiVersion: apps/v1, kind: Deployment, name: app, namespace: %s}
`, env, env, ns)
	if out, err := stack.KubectlStdin(ctx, "admin", []byte(kustomization), "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the Kustomization: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_, _ = stack.Kubectl(ctx, "admin", "delete", "kustomization", "apps-"+env, "-n", "flux-system")
	})
	createPromotion(t, "admin", envManifest("shop", env, "{path: overlays/"+env+", promotesFrom: test, fluxKustomization: {name: apps-"+env+"}}"))
	t.Cleanup(func() { _, _ = stack.Kubectl(ctx, "admin", "delete", "environment", env, "-n", "shop") })

	out, err := plugin("admin", "create", "promotion", "--to", env, "-n", "shop", "-o", "name", "--wait=120s")
	if err == nil {
		t.Fatalf("kubectl create promotion --wait into a failing Kustomization exited 0:\n%s", out)
	}
	name := createdName(t, out)
	if !strings.Contains(out, "promotion "+name+" failed: Flux Kustomization flux-system/apps-"+env) || !strings.Contains(out, "HealthCheckFailed") {
		t.Errorf("--wait's error does not carry Flux's reason:\n%s", out)
	}
	applied, _ := promotionCondition(t, name, v1alpha1.ConditionApplied)
	if applied == nil || applied.Status != metav1.ConditionFalse || applied.Reason != v1alpha1.ReasonFailed || !strings.Contains(applied.Message, "HealthCheckFailed") {
		t.Errorf("Applied of the failed promotion: %+v", applied)
	}
	if healthy, _ := promotionCondition(t, name, v1alpha1.ConditionHealthy); healthy == nil || healthy.Reason != v1alpha1.ReasonFailed {
		t.Errorf("Healthy of the failed promotion: %+v", healthy)
	}
	eventually(t, "a Failed Event on "+name, 30*time.Second, func() string {
		if got := promotionEvents(t, name); !strings.Contains(got, "Failed") {
			return got
		}
		return ""
	})
	if table := kubectl(t, "alice", "get", "promotion", name, "-n", "shop"); !strings.Contains(table, " Failed ") {
		t.Errorf("kubectl get promotions does not show it failed:\n%s", table)
	}
}
