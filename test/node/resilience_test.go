//go:build node

package node

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitgate-dev/gitgate/internal/localstack"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
)

// tally counts requests by phase.
type tally struct {
	mu       sync.Mutex
	ok, fail map[string]int
	errs     map[string][]string
}

func newTally() *tally {
	return &tally{ok: map[string]int{}, fail: map[string]int{}, errs: map[string][]string{}}
}

func (c *tally) add(phase string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.ok[phase]++
		return
	}
	c.fail[phase]++
	if len(c.errs[phase]) < 5 {
		c.errs[phase] = append(c.errs[phase], err.Error())
	}
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var phases []string
	for p := range c.ok {
		phases = append(phases, p)
	}
	for p := range c.fail {
		if c.ok[p] == 0 {
			phases = append(phases, p)
		}
	}
	sort.Strings(phases)
	var b strings.Builder
	for _, p := range phases {
		fmt.Fprintf(&b, "\n  %-22s %4d ok %3d failed %v", p, c.ok[p], c.fail[p], c.errs[p])
	}
	return b.String()
}

// releasePods lists the release's pods as name → containerID and restart count.
func releasePods(t testing.TB) map[string]string {
	out := kubectl(t, "admin", "get", "pods", "-n", localstack.ReleaseNamespace, "-l", "app.kubernetes.io/name=gitgate",
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}`)
	pods := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			pods[f[0]] = f[1] + " " + f[2]
		}
	}
	return pods
}

// waitForTwoReady waits until the release has two ready replicas and no
// other pod, and the API answers.
func waitForTwoReady(t testing.TB) {
	t.Helper()
	eventually(t, "two gitgate replicas ready", 4*minute, func() string {
		out, _ := stack.Kubectl(context.Background(), "admin", "get", "pods", "-n", localstack.ReleaseNamespace, "-l", "app.kubernetes.io/name=gitgate",
			"-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{.metadata.deletionTimestamp} {end}`)
		if f := strings.Fields(out); len(f) != 2 || !strings.HasSuffix(f[0], "=True") || !strings.HasSuffix(f[1], "=True") {
			return out
		}
		return ""
	})
}

// Two writers promote dev into test and a reader lists and watches
// promotions, all through kube-apiserver's aggregator, while gitgate loses
// a pod (deleted), rolls all of them (helm upgrade), and has each replica's
// process SIGKILLed in turn. No acknowledged promotion is lost or made
// twice, and the watch sees every one; the failed requests of each phase
// are reported (docs/operations.md, "Running on a real node").
func TestResilienceWhileGitgateLosesPods(t *testing.T) {
	ctx := context.Background()
	f := cloneFleet(t)
	run := time.Now().Unix() % 100000

	// test's workloads would roll on every promotion: Flux leaves them
	// alone for the run, and gets an image it can run afterwards.
	kubectl(t, "admin", "patch", "kustomization", "apps-test", "-n", "flux-system", "--type=merge", "-p", `{"spec":{"suspend":true}}`)
	t.Cleanup(func() {
		if tag := envTag(t, "test"); tag != "" {
			if err := stack.ImportAppImage(ctx, tag); err != nil {
				t.Error(err)
			}
		}
		kubectl(t, "admin", "patch", "kustomization", "apps-test", "-n", "flux-system", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
	})

	var tags []string
	for i := range 600 {
		tags = append(tags, fmt.Sprintf("development-40.%d.%d", run, i))
	}
	revs := f.commitTags("dev", tags...)

	var phase atomic.Value
	phase.Store("steady")
	writes, reads := newTally(), newTally()
	var mu sync.Mutex
	acked, failed := map[string]bool{}, map[string]string{}
	var next atomic.Int64
	stopWriters, stop := make(chan struct{}), make(chan struct{})
	var writersDone sync.WaitGroup
	var wg sync.WaitGroup
	// The writers stop first, then the reader; on a failure that ends the
	// test early too, so that no goroutine outlives it (or logs after it).
	var stopWritersOnce, stopOnce sync.Once
	endWriters := func() { stopWritersOnce.Do(func() { close(stopWriters) }); writersDone.Wait() }
	endReader := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(func() { endWriters(); endReader() })
	for _, user := range []string{"alice", "bob"} {
		cs := clientset(t, user)
		writersDone.Add(1)
		go func() {
			defer writersDone.Done()
			for {
				select {
				case <-stopWriters:
					return
				case <-time.After(150 * time.Millisecond):
				}
				i := int(next.Add(1)) - 1
				if i >= len(revs) {
					return
				}
				name := fmt.Sprintf("res-%d-%d", run, i)
				p := &v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: v1alpha1.PromotionSpec{Environment: "test", From: "dev", Revision: revs[i]}}
				reqCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := cs.GitgateV1alpha1().Promotions("shop").Create(reqCtx, p, metav1.CreateOptions{})
				cancel()
				writes.add(phase.Load().(string), err)
				mu.Lock()
				if err == nil {
					acked[name] = true
				} else {
					failed[name] = err.Error()
				}
				mu.Unlock()
			}
		}()
	}

	// The reader lists, and watches from where its list left off, resuming
	// from the last event it saw whenever the watch ends. A replica
	// remembers the changes since it started: a watch resumed on one that
	// started after the reader's last event gets 410 Expired, and the
	// reader lists again and watches from there, as client-go's reflector
	// does; what that list holds counts as seen (relisted), and the
	// expiries are reported.
	reader := clientset(t, "alice")
	seen, relisted := map[string]bool{}, map[string]bool{}
	var watchResumes, watchErrors, watchExpired atomic.Int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			reqCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := reader.GitgateV1alpha1().Promotions("shop").List(reqCtx, metav1.ListOptions{})
			cancel()
			reads.add(phase.Load().(string), err)
		}
	}()
	list, err := reader.GitgateV1alpha1().Promotions("shop").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watchDone := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(watchDone)
		rv := list.ResourceVersion
		for {
			select {
			case <-stop:
				return
			default:
			}
			w, err := reader.GitgateV1alpha1().Promotions("shop").Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
			if err != nil {
				watchErrors.Add(1)
				if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
					watchExpired.Add(1)
					t.Logf("resuming the watch from %s: %v; listing again", rv, err)
					if again := relist(ctx, reader, stop, relisted, &mu); again != "" {
						rv = again
					}
					continue
				}
				time.Sleep(250 * time.Millisecond)
				continue
			}
			rv = consume(w, stop, seen, &mu, rv)
			watchResumes.Add(1)
		}
	}()

	step := func(name string, do func()) {
		phase.Store(name)
		started := time.Now()
		do()
		t.Logf("phase %s took %s", name, time.Since(started).Round(time.Second))
	}
	step("steady", func() { time.Sleep(5 * time.Second) })
	step("delete-one-pod", func() {
		var victim string
		for name := range releasePods(t) {
			victim = name
			break
		}
		kubectl(t, "admin", "delete", "pod", victim, "-n", localstack.ReleaseNamespace, "--wait=false")
		eventually(t, victim+" replaced", 4*minute, func() string {
			if _, ok := releasePods(t)[victim]; ok {
				return victim + " still there"
			}
			return ""
		})
		waitForTwoReady(t)
	})
	step("helm-upgrade-rolling", func() {
		if out, err := stack.Helm(ctx, "upgrade", localstack.Release, stack.ChartPath(), "-n", localstack.ReleaseNamespace, "--reuse-values",
			"--set-string", fmt.Sprintf("podAnnotations.restartedAt=%d", time.Now().Unix()), "--wait", "--timeout", "5m"); err != nil {
			t.Fatalf("helm upgrade: %v\n%s", err, out)
		}
		waitForTwoReady(t)
	})
	for n := range 2 {
		step(fmt.Sprintf("sigkill-replica-%d", n+1), func() {
			pods := releasePods(t)
			var names []string
			for name := range pods {
				names = append(names, name)
			}
			sort.Strings(names)
			victim := names[n]
			id, restarts, _ := strings.Cut(pods[victim], " ")
			if err := stack.KillContainer(ctx, id); err != nil {
				t.Fatal(err)
			}
			eventually(t, victim+" restarted after SIGKILL", 4*minute, func() string {
				if got := releasePods(t)[victim]; got == pods[victim] || strings.HasSuffix(got, " "+restarts) {
					return "not restarted yet: " + got
				}
				return ""
			})
			waitForTwoReady(t)
		})
	}
	step("settle", func() { time.Sleep(5 * time.Second) })
	endWriters()
	// The watch has until then to deliver the last acknowledged writes.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		missing := 0
		for name := range acked {
			if !seen[name] && !relisted[name] {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	endReader()
	<-watchDone

	inGit := f.trailers()
	lost, duplicated, landedUnacked := 0, 0, 0
	for name := range acked {
		switch n := inGit[name]; {
		case n == 0:
			lost++
			t.Errorf("acknowledged %s is not in Git", name)
		case n > 1:
			duplicated++
			t.Errorf("acknowledged %s is in Git %d times", name, n)
		}
	}
	prefix := fmt.Sprintf("res-%d-", run)
	for name, n := range inGit {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if n > 1 && !acked[name] {
			duplicated++
			t.Errorf("%s is in Git %d times", name, n)
		}
		if !acked[name] {
			landedUnacked++
			t.Logf("%s landed although its request failed: %s", name, failed[name])
		}
	}
	listed, err := reader.GitgateV1alpha1().Promotions("shop").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inList := map[string]bool{}
	for _, p := range listed.Items {
		inList[p.Name] = true
	}
	unseen, unlisted, fromRelist := 0, 0, 0
	mu.Lock()
	defer mu.Unlock()
	for name := range acked {
		if !inList[name] {
			unlisted++
			t.Errorf("acknowledged %s is missing from the list", name)
		}
		switch {
		case seen[name]:
		case relisted[name]:
			fromRelist++
		default:
			unseen++
			t.Errorf("the reader never saw acknowledged %s: the watch did not deliver it, nor did a list after a 410", name)
		}
	}
	if len(acked) < 50 {
		t.Errorf("only %d promotions acknowledged: the run proved little", len(acked))
	}
	t.Logf("RESILIENCE: %d writes acknowledged, %d failed, %d lost, %d duplicated, %d landed without acknowledgement; "+
		"%d acknowledged missing from the list, %d never seen by the reader, %d seen only in a list after a 410 "+
		"(watch resumed %d times, %d watch requests failed, %d of them 410 Expired)\nwrites:%s\nlists:%s",
		len(acked), len(failed), lost, duplicated, landedUnacked, unlisted, unseen, fromRelist,
		watchResumes.Load(), watchErrors.Load(), watchExpired.Load(), writes, reads)
}

// relist lists promotions again after a watch's 410, until it succeeds or
// stop closes, records what it holds in relisted, and returns the list's
// resourceVersion ("" when stopped).
func relist(ctx context.Context, reader *versioned.Clientset, stop <-chan struct{}, relisted map[string]bool, mu *sync.Mutex) string {
	for {
		reqCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		list, err := reader.GitgateV1alpha1().Promotions("shop").List(reqCtx, metav1.ListOptions{})
		cancel()
		if err == nil {
			mu.Lock()
			for _, p := range list.Items {
				relisted[p.Name] = true
			}
			mu.Unlock()
			return list.ResourceVersion
		}
		select {
		case <-stop:
			return ""
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// consume records the ADDED promotions of a watch until it ends or stop
// closes, and returns the last resourceVersion seen.
func consume(w watch.Interface, stop <-chan struct{}, seen map[string]bool, mu *sync.Mutex, rv string) string {
	defer w.Stop()
	for {
		select {
		case <-stop:
			return rv
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv
			}
			p, isPromotion := ev.Object.(*v1alpha1.Promotion)
			if !isPromotion {
				return rv // an error event: resume from the last one seen
			}
			if ev.Type == watch.Added {
				mu.Lock()
				seen[p.Name] = true
				mu.Unlock()
			}
			if ev.Type != watch.Modified { // Modified carries derived status at the replica's current version
				rv = p.ResourceVersion
			}
		}
	}
}
