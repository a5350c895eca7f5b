//go:build node

package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/internal/localstack"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// envTag is the app tag gitgate reports for an environment.
func envTag(t testing.TB, env string) string {
	return kubectl(t, "alice", "get", "environment", env, "-n", "shop", "-o", `jsonpath={.status.images[?(@.name=="app")].tag}`)
}

// setTestTag commits tag into test's overlay and waits until gitgate shows it.
func setTestTag(t testing.TB, f *fleet, tag string) {
	t.Helper()
	f.commitTags("test", tag)
	eventually(t, "test shows tag "+tag, minute, func() string {
		if got := envTag(t, "test"); got != tag {
			return "tag is " + got
		}
		return ""
	})
}

// promoteToProd promotes test into prod as bob and returns the promotion's
// name, the plugin's output and its error (--wait: Flux applied it, or failed).
func promoteToProd(t testing.TB) (string, string, error) {
	t.Helper()
	out, err := stack.KubectlPlugin(context.Background(), "bob", "create", "promotion", "--to", "prod", "-n", "shop", "-o", "name", "--wait=150s")
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	name, ok := strings.CutPrefix(first, "promotion.gitgate.dev/")
	if !ok {
		t.Fatalf("no promotion name in %q (%v)", out, err)
	}
	return name, out, err
}

// healthy reads a promotion's Healthy condition.
func healthy(t testing.TB, name string) *metav1.Condition {
	t.Helper()
	p, err := clientset(t, "bob").GitgateV1alpha1().Promotions("shop").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return apimeta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionHealthy)
}

// Every environment of the example fleet runs in pods, each the image its
// overlay names (imported on the node, never pulled).
func TestFleetRunsInPods(t *testing.T) {
	for _, env := range []string{"dev", "test", "prod"} {
		waitForPodsRunning(t, env, localstack.AppImage+":"+envTag(t, env))
		if policy := kubectl(t, "admin", "get", "deployment", "app", "-n", "shop-"+env, "-o", "jsonpath={.spec.template.spec.containers[*].imagePullPolicy}"); policy != "Never Never" {
			t.Errorf("shop-%s pulls with %q, want Never for both containers", env, policy)
		}
	}
}

// A promotion into prod is what prod's pods run once Flux applied it, and
// its Healthy condition turns True from Flux's health check of the
// Deployment; a promotion of a tag the node never imported cannot become
// available: Flux's health check fails and the promotion says so. A good
// promotion after it heals prod.
func TestPromotionRunsInPodsAndItsHealthIsReal(t *testing.T) {
	ctx := context.Background()
	f := cloneFleet(t)
	run := time.Now().Unix() % 100000

	good := fmt.Sprintf("version-7.%d", run)
	if err := stack.ImportAppImage(ctx, good); err != nil {
		t.Fatal(err)
	}
	setTestTag(t, f, good)
	promoteAndRunHealthy(t, good, "into prod")

	missing := fmt.Sprintf("version-8.%d", run) // never imported
	setTestTag(t, f, missing)
	name, out, err := promoteToProd(t)
	if err == nil {
		t.Fatalf("promotion of never-imported %s into prod succeeded:\n%s", missing, out)
	}
	if !strings.Contains(out, "HealthCheckFailed") {
		t.Errorf("--wait's error does not carry Flux's health check failure:\n%s", out)
	}
	if c := healthy(t, name); c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonFailed {
		t.Errorf("Healthy of %s: %+v, want False, %s", name, c, v1alpha1.ReasonFailed)
	}
	// The new pod cannot start; the old one still serves.
	reasons := kubectl(t, "admin", "get", "pods", "-n", "shop-prod", "-l", "app=app",
		"-o", `jsonpath={range .items[*]}{.spec.containers[0].image}={.status.containerStatuses[?(@.name=="app")].state.waiting.reason}{.status.containerStatuses[?(@.name=="app")].ready}{"\n"}{end}`)
	if !strings.Contains(reasons, localstack.AppImage+":"+missing+"=ErrImageNeverPull") || !strings.Contains(reasons, localstack.AppImage+":"+good+"=true") {
		t.Errorf("shop-prod's pods:\n%s\nwant the new one ErrImageNeverPull and the old one ready", reasons)
	}

	healed := fmt.Sprintf("version-9.%d", run)
	if err := stack.ImportAppImage(ctx, healed); err != nil {
		t.Fatal(err)
	}
	setTestTag(t, f, healed)
	promoteAndRunHealthy(t, healed, "after the failed one")
}

// promoteAndRunHealthy promotes test's tag into prod and waits until
// prod's pods run it and the promotion's Healthy condition is True.
func promoteAndRunHealthy(t *testing.T, tag, what string) {
	t.Helper()
	name, out, err := promoteToProd(t)
	if err != nil {
		t.Fatalf("promotion of %s %s: %v\n%s", tag, what, err, out)
	}
	waitForPodsRunning(t, "prod", localstack.AppImage+":"+tag)
	eventually(t, name+" Healthy", 2*minute, func() string {
		if c := healthy(t, name); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Sprintf("%+v", c)
		}
		return ""
	})
}
