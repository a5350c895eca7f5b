package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// fluxWait bounds how long Flux (interval 2s in these tests) may take to
// fetch a commit and apply it.
const fluxWait = 90 * time.Second

// prodImage is the app image of the Deployment in shop-prod.
func prodImage(t *testing.T) string {
	return kubectl(t, "admin", "get", "deployment", "app", "-n", "shop-prod", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
}

// waitForProdImage waits until Flux has applied image to shop-prod.
func waitForProdImage(t *testing.T, image string) {
	t.Helper()
	eventually(t, "Flux applies "+image+" to shop-prod", fluxWait, func() string {
		if got := prodImage(t); got != image {
			return "image is " + got
		}
		return ""
	})
}

// promoteToProd promotes test into prod as bob and returns the commit.
func promoteToProd(t *testing.T) string {
	t.Helper()
	out, err := plugin("bob", "create", "promotion", "--to", "prod", "-n", "shop", "-o", "jsonpath={.status.commit}")
	if err != nil || len(strings.TrimSpace(out)) != 40 {
		t.Fatalf("kubectl create promotion --to prod: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

func TestFluxAppliesPromotionsAndSyncShowsIt(t *testing.T) {
	admissionRBAC(t)
	fleet := cloneFleet(t)
	tag := fleet.setTag("test", "version-40.")
	commit := promoteToProd(t)
	waitForProdImage(t, "registry.example.com/app:"+tag)
	eventually(t, "prod's sync shows the promotion applied", fluxWait, func() string {
		out, _ := stack.Kubectl(context.Background(), "alice", "get", "environment", "prod", "-n", "shop",
			"-o", `jsonpath={.status.sync.ready} {.status.sync.upToDate} {.status.sync.appliedRevision}`)
		if out != "true true main@sha1:"+commit {
			return out
		}
		return ""
	})
	wide := kubectl(t, "alice", "get", "environment", "prod", "-n", "shop", "-o", "wide")
	if lines := strings.Split(strings.TrimSpace(wide), "\n"); !strings.HasSuffix(lines[0], "SYNCED") || !strings.HasSuffix(lines[1], " True") {
		t.Errorf("kubectl get -o wide does not show prod synced:\n%s", wide)
	}
}

func TestFluxAppliesWhatPeopleCannot(t *testing.T) {
	admissionRBAC(t)
	fleet := cloneFleet(t)
	inEachMode(t, func(t *testing.T, mode string) {
		out := kubectlFails(t, "admin", "", "set", "image", "deployment/app", "app=evil:1", "-n", "shop-prod")
		if !strings.Contains(out, "managed by Flux Kustomization flux-system/apps-prod") {
			t.Fatalf("admin's kubectl set image: %s", out)
		}
		// kustomize-controller's server-side apply of the next promotion goes through.
		tag := fleet.setTag("test", "version-42.")
		promoteToProd(t)
		waitForProdImage(t, "registry.example.com/app:"+tag)
	})
}

func TestFluxPrunesWhatGitRemovesAndPeopleCannotDelete(t *testing.T) {
	admissionRBAC(t)
	fleet := cloneFleet(t)
	fleet.git(fleet.dir, "checkout", "-q", "-B", "main", "origin/main")
	kfile := filepath.Join("overlays", "prod", "kustomization.yaml")
	original, err := os.ReadFile(filepath.Join(fleet.dir, kfile))
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("flags-%d", time.Now().UnixNano()%1000000)
	flags := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {checkout: new}\n", name)
	withFlags := strings.Replace(string(original), "- ../../base\n", "- ../../base\n- flags.yaml\n", 1)
	fleet.commitFiles("Add feature flags to prod", map[string]string{"overlays/prod/flags.yaml": flags, kfile: withFlags})
	eventually(t, "Flux creates ConfigMap "+name, fluxWait, func() string {
		out, err := stack.Kubectl(context.Background(), "admin", "get", "configmap", name, "-n", "shop-prod",
			"-o", "jsonpath={.metadata.labels.kustomize\\.toolkit\\.fluxcd\\.io/name}")
		if err != nil || out != "apps-prod" {
			return fmt.Sprintf("%s %v", out, err)
		}
		return ""
	})
	if out := kubectlFails(t, "admin", "", "delete", "configmap", name, "-n", "shop-prod"); !strings.Contains(out, "managed by Flux Kustomization flux-system/apps-prod") {
		t.Fatalf("admin's delete: %s", out)
	}
	fleet.commitFiles("Remove feature flags from prod", map[string]string{"overlays/prod/flags.yaml": "", kfile: string(original)})
	eventually(t, "Flux prunes ConfigMap "+name, fluxWait, func() string {
		if out, err := stack.Kubectl(context.Background(), "admin", "get", "configmap", name, "-n", "shop-prod", "--ignore-not-found", "-o", "name"); err != nil || out != "" {
			return fmt.Sprintf("still there: %s %v", out, err)
		}
		return ""
	})
}

// TestFluxRevertsBreakGlassChanges needs Flux's own reconcile, so it
// break-glasses the real shop-prod/app; it leaves no annotation behind.
func TestFluxRevertsBreakGlassChanges(t *testing.T) {
	admissionRBAC(t)
	ctx := context.Background()
	// Start from what Git says: wait until Flux has applied prod's overlay.
	gitImage := "registry.example.com/app:" + kubectl(t, "alice", "get", "environment", "prod", "-n", "shop", "-o", `jsonpath={.status.images[?(@.name=="app")].tag}`)
	waitForProdImage(t, gitImage)
	t.Cleanup(func() {
		// Flux reverts the image; the annotation goes as Flux's prune of
		// it would, so that no later test finds shop-prod/app break-glassed.
		if out, err := stack.Kubectl(ctx, "admin", "annotate", "deployment", "app", "-n", "shop-prod", "gitgate.dev/break-glass-", "--as="+fluxApplier); err != nil {
			t.Errorf("removing the break-glass annotation: %v\n%s", err, out)
		}
	})

	// A watch of prod hears of the drift, which is no Git change.
	w := watchProd(ctx, t)
	defer w.Stop()
	kubectl(t, "bob", "annotate", "deployment", "app", "-n", "shop-prod", "gitgate.dev/break-glass=INC-9 hotfix while Flux sleeps", "--overwrite")
	kubectl(t, "bob", "set", "image", "deployment/app", "app=registry.example.com/app:hotfix-9", "-n", "shop-prod")
	eventually(t, "prod reports the drift", 30*time.Second, func() string {
		out, _ := stack.Kubectl(ctx, "alice", "get", "environment", "prod", "-n", "shop",
			"-o", `jsonpath={.status.conditions[?(@.type=="Drift")].status} {.status.conditions[?(@.type=="Drift")].message}`)
		if !strings.HasPrefix(out, "True ") || !strings.Contains(out, "INC-9") {
			return out
		}
		return ""
	})
	timeout := time.After(30 * time.Second)
	for seen := false; !seen; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended before showing the drift")
			}
			env, _ := ev.Object.(*v1alpha1.Environment)
			for _, c := range envConditions(env) {
				seen = seen || (c.Type == "Drift" && c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "INC-9"))
			}
		case <-timeout:
			t.Fatal("no watch event showed the drift")
		}
	}
	// Flux's next reconcile puts Git's image back.
	waitForProdImage(t, gitImage)
}

// TestWatchSeesFluxApplyThePromotion watches prod: the promotion's commit
// is one event, and Flux applying it, which changes nothing in Git, is
// another.
func TestWatchSeesFluxApplyThePromotion(t *testing.T) {
	admissionRBAC(t)
	ctx, cancel := context.WithTimeout(context.Background(), fluxWait)
	defer cancel()
	fleet := cloneFleet(t)
	fleet.setTag("test", "version-44.")
	w := watchProd(ctx, t)
	defer w.Stop()
	commit := promoteToProd(t)
	sawCommit := false
	for ev := range w.ResultChan() {
		env, ok := ev.Object.(*v1alpha1.Environment)
		if !ok {
			t.Fatalf("watch event %s: %T", ev.Type, ev.Object)
		}
		if env.Status.Revision == commit {
			sawCommit = true
		}
		if s := env.Status.Sync; sawCommit && s != nil && s.AppliedRevision == "main@sha1:"+commit && s.UpToDate && s.Ready {
			return
		}
	}
	t.Fatalf("the watch ended without showing Flux apply %s (saw the commit: %v): %v", commit, sawCommit, ctx.Err())
}

func envConditions(env *v1alpha1.Environment) []metav1.Condition {
	if env == nil {
		return nil
	}
	return env.Status.Conditions
}

// watchProd watches environment prod as alice from its current state on.
func watchProd(ctx context.Context, t *testing.T) watch.Interface {
	t.Helper()
	envs := clientset(t, "alice").GitgateV1alpha1().Environments("shop")
	prod, err := envs.Get(ctx, "prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := envs.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=prod", ResourceVersion: prod.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	return w
}
