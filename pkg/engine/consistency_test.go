package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// devOverlay is the trunk fleet's dev overlay with app at tag.
func devOverlay(tag string) string {
	return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop-dev
resources:
- ../../base
images:
- name: app
  newName: registry.example.com/app
  newTag: ` + tag + `
- name: proxy
  newName: registry.example.com/proxy
  newTag: "1.0"
`
}

// TestPromotionRightAfterAGitPushCarriesThePushedImage is CI's sequence:
// git push a new dev image, then at once promote dev into test. The
// engine never refreshes in between on its own: the write's ref check is
// what sees the push.
func TestPromotionRightAfterAGitPushCarriesThePushedImage(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	for i := 1; i <= 5; i++ {
		tag := fmt.Sprintf("development-9.0.%d", i)
		f.commitFile("main", "overlays/dev/kustomization.yaml", devOverlay(tag))
		p, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion(fmt.Sprintf("ci-%d", i), "test", "dev"), User: "ci"})
		if err != nil {
			t.Fatalf("promotion %d right after the push of %s: %v", i, tag, err)
		}
		if len(p.Status.Changes) != 1 || p.Status.Changes[0].To != tag {
			t.Fatalf("promotion %d carries %+v, want app to %s", i, p.Status.Changes, tag)
		}
	}
}

// TestConsistentReadsShareOneRefCheckAndSeePushes: a read after a push
// by someone else sees it once Sync returns, and concurrent Syncs share
// ref advertisements instead of asking the remote once each.
func TestConsistentReadsShareOneRefCheckAndSeePushes(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	var checks, fetches atomic.Int32
	e, err := New(Options{
		Repository: gitstore.Options{URL: f.url, Credentials: f.creds, Timeout: 10 * time.Second},
		ObserveGit: func(op string, _ time.Duration, _ error) {
			switch op {
			case "ls-remote":
				checks.Add(1)
			case "fetch":
				fetches.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	head := f.commitFile("main", "overlays/dev/kustomization.yaml", devOverlay("development-7.7.7"))
	if h, _ := e.Snapshot().Head("main"); h.String() == head {
		t.Fatal("the snapshot has the push before any check: the test proves nothing")
	}
	checks.Store(0)
	fetches.Store(0)
	const readers = 20
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Sync(ctx); err != nil {
				errs <- err
				return
			}
			if h, _ := e.Snapshot().Head("main"); h.String() != head {
				errs <- fmt.Errorf("after Sync main is %s, want the pushed %s", h.Short(), head[:7])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := checks.Load(); n < 1 || n > 2 {
		t.Errorf("%d concurrent reads made %d ref checks, want 1 or 2 (one running, one queued)", readers, n)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d concurrent reads made %d fetches, want 1", readers, n)
	}
	checks.Store(0)
	fetches.Store(0)
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if checks.Load() != 1 || fetches.Load() != 0 {
		t.Errorf("a read with nothing new made %d checks and %d fetches, want 1 and 0", checks.Load(), fetches.Load())
	}
}

func TestReadsDuringAnOutageAreServedFromMemory(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	if err := f.server.Stop(); err != nil {
		t.Fatal(err)
	}
	err := e.Sync(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Sync during the outage: %v, want ErrUnavailable", err)
	}
	if len(e.Snapshot().Environments()) != 3 {
		t.Fatal("the snapshot lost its environments during the outage")
	}
	if err := f.server.Restart(); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryNeverWaitsOnTheWriteLock reads history while a writer holds
// the lock.
func TestHistoryNeverWaitsOnTheWriteLock(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	e.mu.Lock()
	defer e.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		h, err := e.History("prod", 10)
		if err == nil && len(h.Entries) == 0 {
			err = errors.New("no history entries")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("History waited on the write lock")
	}
}

// largeSealedSecret is a SealedSecret of about size bytes.
func largeSealedSecret(size int) []byte {
	return []byte(strings.Replace(sealedDB, "QWdCeVFWcz0=", strings.Repeat("QWdC", size/4), 1))
}

// heapAfterGC is the live heap, in bytes.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	for i := 0; i < 2; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestRequestsLeaveNoMemoryBehind: 200 dry runs of a large SealedSecret,
// refused writes and writes that lose a race leave the heap (and the
// mirror's object count) where they found them.
func TestRequestsLeaveNoMemoryBehind(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	ctx := context.Background()
	w := sealWrite("prod", "shop-prod")
	w.Content, w.DryRun = largeSealedSecret(900_000), true
	if _, err := e.CommitSealedSecret(ctx, w); err != nil { // warm caches
		t.Fatal(err)
	}
	objects, before := e.repo.Objects(), heapAfterGC()
	for i := 0; i < 200; i++ {
		// Sealing encrypts afresh each time: every dry run is new content.
		w.Content = largeSealedSecret(900_000)
		copy(w.Content[len(w.Content)-20:], fmt.Sprintf("%08d", i))
		if _, err := e.CommitSealedSecret(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	refused := w
	refused.DryRun, refused.Namespace = false, "shop-dev"
	for i := 0; i < 5; i++ {
		if _, err := e.CommitSealedSecret(ctx, refused); err == nil {
			t.Fatal("a SealedSecret for another namespace was committed")
		}
	}
	after := heapAfterGC()
	if got := e.repo.Objects(); got != objects || e.repo.Staged() != 0 {
		t.Errorf("mirror holds %d objects (%d staged), want %d and none staged", got, e.repo.Staged(), objects)
	}
	const slack = 8 << 20
	t.Logf("heap before %d MB, after 200 dry runs of a 0.9 MB SealedSecret %d MB", before>>20, after>>20)
	if after > before+slack {
		t.Fatalf("heap grew from %d to %d bytes over 200 dry runs: more than %d MB stayed", before, after, slack>>20)
	}
}

// TestEachWriteDeliversItsPromotionOnce: snapshots carry only what a
// write changed, and a watch still gets every promotion exactly once, in
// the order made, findable by name in every later snapshot.
func TestEachWriteDeliversItsPromotionOnce(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	sub, err := e.Watch(e.Snapshot().ResourceVersion())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	ctx := context.Background()
	var names []string
	for i := 1; i <= 4; i++ {
		f.commitFile("main", "overlays/dev/kustomization.yaml", devOverlay(fmt.Sprintf("development-8.0.%d", i)))
		name := fmt.Sprintf("watched-%d", i)
		if _, err := e.Promote(ctx, PromotionRequest{Promotion: promotion(name, "test", "dev"), User: "ci"}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	var got []string
	timeout := time.After(30 * time.Second)
	for len(got) < len(names) {
		select {
		case ev := <-sub.C:
			if ev.Promotion != nil {
				got = append(got, string(ev.Type)+" "+ev.Promotion.Name)
			}
		case <-timeout:
			t.Fatalf("after %d promotions the watch delivered %v", len(names), got)
		}
	}
	for i, name := range names {
		if got[i] != "ADDED "+name {
			t.Fatalf("watch delivered %v, want ADDED for each of %v in order", got, names)
		}
		if _, err := e.Snapshot().Promotion(name); err != nil {
			t.Errorf("the snapshot does not find %s: %v", name, err)
		}
	}
}
