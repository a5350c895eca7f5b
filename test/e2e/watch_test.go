package e2e

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
	"github.com/gitgate-dev/gitgate/pkg/generated/informers/externalversions"
)

// streamLines runs kubectl with -w and delivers its output lines.
func streamLines(t *testing.T, args ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, stack.KubectlPath(), append([]string{"--kubeconfig=" + stack.Kubeconfig, "--context=alice"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_ = cmd.Wait()
	}()
	return lines
}

func waitForLine(t *testing.T, lines <-chan string, what string, match func(string) bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("watch ended before %s", what)
			}
			if match(line) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s within 30s", what)
		}
	}
}

func TestKubectlWatchSeesOtherClientsAndDirectPushes(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	fleet.setTag("dev", "development-7.")
	promotions := streamLines(t, "get", "promotions", "-n", ns, "-w", "-o", "name")
	devTags := streamLines(t, "get", "environment", "dev", "-n", ns, "-w", "-o", `jsonpath={.status.images[?(@.name=="app")].tag}{"\n"}`)

	// Another client (bob, through the clientset) promotes.
	_, err := clientset(t, "bob").GitgateV1alpha1().Promotions(ns).Create(context.Background(),
		&v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "watched-promotion"}, Spec: v1alpha1.PromotionSpec{Environment: "test"}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitForLine(t, promotions, "watched-promotion in the promotion watch", func(l string) bool {
		return strings.TrimSpace(l) == "promotion.gitgate.dev/watched-promotion"
	})

	// Someone pushes straight to the Git server.
	tag := fleet.setTag("dev", "development-8.")
	waitForLine(t, devTags, "dev's new tag in the environment watch", func(l string) bool { return strings.TrimSpace(l) == tag })
}

func TestInformerUsesWatchList(t *testing.T) {
	cs := clientset(t, "alice")
	// The watch-list protocol by hand: initial ADDED events, then the bookmark.
	send := true
	w, err := cs.GitgateV1alpha1().Environments("shop").Watch(context.Background(), metav1.ListOptions{
		SendInitialEvents: &send, AllowWatchBookmarks: true, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	added, bookmarked := 0, false
	for ev := range w.ResultChan() {
		if ev.Type == watch.Added {
			added++
			continue
		}
		env, ok := ev.Object.(*v1alpha1.Environment)
		if ev.Type != watch.Bookmark || !ok || env.Annotations[metav1.InitialEventsAnnotationKey] != "true" || env.ResourceVersion == "" {
			t.Fatalf("after %d ADDED events got %s %#v, want the initial-events-end bookmark", added, ev.Type, ev.Object)
		}
		bookmarked = true
		break
	}
	if !bookmarked {
		t.Fatalf("the watch closed after %d ADDED events without the initial-events-end bookmark", added)
	}
	if added < 3 {
		t.Fatalf("watch-list sent %d initial environments, want at least 3", added)
	}

	// A real informer syncs and follows, and it does so with watch-list:
	// its requests are recorded, and none of them is a plain list.
	var mu sync.Mutex
	var requests []string
	cfg := restConfig(t, "alice")
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, "/promotions") {
				mu.Lock()
				requests = append(requests, r.URL.RawQuery)
				mu.Unlock()
			}
			return rt.RoundTrip(r)
		})
	})
	recorded, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := externalversions.NewSharedInformerFactoryWithOptions(recorded, 0, externalversions.WithNamespace("shop"))
	informer := factory.Gitgate().V1alpha1().Promotions()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	informer.Informer()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.Informer().HasSynced) {
		t.Fatal("promotion informer never synced")
	}
	mu.Lock()
	synced := append([]string(nil), requests...)
	mu.Unlock()
	if len(synced) == 0 {
		t.Fatal("the informer synced without a request to promotions")
	}
	for _, q := range synced {
		if !strings.Contains(q, "watch=true") || !strings.Contains(q, "sendInitialEvents=true") {
			t.Fatalf("the informer sent %q, want only watch-list requests (watch=true&sendInitialEvents=true); all: %q", q, synced)
		}
	}
	fleet := cloneFleet(t)
	fleet.setTag("dev", "development-9.")
	createPromotion(t, "alice", promotionYAML("informed", "test", ""), "-n", "shop")
	eventually(t, "the informer sees promotion informed", 30*time.Second, func() string {
		if _, err := informer.Lister().Promotions("shop").Get("informed"); err != nil {
			return err.Error()
		}
		return ""
	})
}

func TestWatchResumesFromAResourceVersionAndExpiresOldOnes(t *testing.T) {
	cs := clientset(t, "alice")
	list, err := cs.GitgateV1alpha1().Promotions("shop").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fleet := cloneFleet(t)
	fleet.setTag("dev", "development-10.")
	createPromotion(t, "alice", promotionYAML("after-list", "test", ""), "-n", "shop")

	w, err := cs.GitgateV1alpha1().Promotions("shop").Watch(context.Background(), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		if p, ok := ev.Object.(*v1alpha1.Promotion); !ok || p.Name != "after-list" || ev.Type != watch.Added {
			t.Fatalf("resumed watch first got %s %#v, want ADDED after-list", ev.Type, ev.Object)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("resumed watch got nothing")
	}

	// resourceVersion 1 is older than anything the server remembers.
	_, err = cs.GitgateV1alpha1().Promotions("shop").Watch(context.Background(), metav1.ListOptions{ResourceVersion: "1"})
	if !apierrors.IsResourceExpired(err) {
		t.Fatalf("watch from resourceVersion 1: %v, want 410 Expired", err)
	}
}

// roundTripperFunc lets a function serve as an http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
