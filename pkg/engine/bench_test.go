package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// benchRepo is a generated fleet: 2,000 files and 10,000 commits, each a
// promotion into dev carrying trailers, served by a real Git server. With
// GITGATE_BENCH_LARGE=1 it has 100,000 commits and 20,000 files (building
// it takes a few minutes).
type benchRepo struct {
	server *gitserver.Server
	url    string
	revA   string // two dev states with different tags, for promotions that always change something
	revB   string
	// served adds up the time the Git server took to answer requests, so
	// a benchmark can report gitgate's own share of a write; advertised is
	// the part of it spent on ref advertisements (GET info/refs).
	served, advertised *atomic.Int64
}

// benchSize is the generated repository's size: commits and files.
// GITGATE_BENCH_FILES=N sets the files alone, to tell what grows with
// history from what grows with the tree.
func benchSize() (commits, files int) {
	commits, files = 10000, 2000
	if os.Getenv("GITGATE_BENCH_LARGE") == "1" {
		commits, files = 100000, 20000
	}
	if n, err := strconv.Atoi(os.Getenv("GITGATE_BENCH_FILES")); err == nil && n > 0 {
		files = n
	}
	return commits, files
}

func newBenchRepo(b *testing.B) *benchRepo {
	b.Helper()
	benchCommits, benchFiles := benchSize()
	root := b.TempDir()
	bare := filepath.Join(root, "fleet.git")
	run := func(stdin string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("", "init", "-q", "--bare", "--initial-branch=main", bare)

	var s strings.Builder
	blob := func(content string) { fmt.Fprintf(&s, "data %d\n%s\n", len(content), content) }
	commit := func(n int, msg string) {
		fmt.Fprintf(&s, "commit refs/heads/main\nmark :%d\ncommitter gen <gen@example.com> %d +0000\n", n, 1700000000+n)
		blob(msg)
		if n > 1 {
			fmt.Fprintf(&s, "from :%d\n", n-1)
		}
	}
	commit(1, "Initial fleet")
	for _, name := range []string{"base/deployment.yaml", "base/service.yaml", "base/kustomization.yaml"} {
		content, err := os.ReadFile(filepath.Join("..", "..", "artifacts", "fleet", "trunk", name))
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&s, "M 100644 inline %s\n", name)
		blob(string(content))
	}
	for i := 0; i < benchFiles; i++ {
		fmt.Fprintf(&s, "M 100644 inline apps/app-%04d/config.yaml\n", i)
		blob(fmt.Sprintf("name: app-%d\nreplicas: %d\n", i, i%5))
	}
	for i, env := range benchEnvironments() {
		from := map[string]string{"test": "\n  promotesFrom: dev", "prod": "\n  promotesFrom: test"}[env]
		fmt.Fprintf(&s, "M 100644 inline .gitgate/environments/%s.yaml\n", env)
		blob(fmt.Sprintf("apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: %s\nspec:\n  path: overlays/%s%s\n", env, env, from))
		fmt.Fprintf(&s, "M 100644 inline overlays/%s/kustomization.yaml\n", env)
		tag := 0
		if i >= 3 { // an overlay of its own: the render cache cannot share it
			tag = 1000000 + i
		}
		blob(overlay(tag))
	}
	for n := 2; n <= benchCommits; n++ {
		commit(n, fmt.Sprintf("Promote ci@%d into dev\n\nGitgate-Promotion: dev-%d\nGitgate-Environment: dev\nGitgate-Branch: main\nGitgate-From: ci@%040d\nGitgate-Change: app v%d -> v%d\nPromoted-By: ci\n", n, n, n, n-1, n))
		fmt.Fprintf(&s, "M 100644 inline overlays/dev/kustomization.yaml\n")
		blob(overlay(n))
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(s.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, out)
	}
	served, advertised := &atomic.Int64{}, &atomic.Int64{}
	srv, err := gitserver.Start(gitserver.Options{Root: root, Observe: func(req *http.Request, took time.Duration) {
		served.Add(int64(took))
		if strings.HasSuffix(req.URL.Path, "/info/refs") {
			advertised.Add(int64(took))
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Stop() })
	return &benchRepo{
		server: srv, url: srv.URL("fleet"), served: served, advertised: advertised,
		revA: run("", "-C", bare, "rev-parse", "main~1"),
		revB: run("", "-C", bare, "rev-parse", "main"),
	}
}

func overlay(n int) string {
	return fmt.Sprintf("resources:\n- ../../base\nimages:\n- name: app # {\"$imagepolicy\": \"flux-system:app\"}\n  newName: registry.example.com/app\n  newTag: v%d\n", n)
}

func (r *benchRepo) engine(b *testing.B) *Engine {
	// The first fetch of the large repository can outlast the default timeout.
	e, err := New(Options{Repository: gitstore.Options{URL: r.url, Timeout: 10 * time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	return e
}

// reportPercentiles adds p50 and p99 of the recorded durations, in ms.
func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkPromote is plan + commit + push with a warm cache, against a
// repository of 10,000 commits and 2,000 files. Besides the whole
// promotion's percentiles it reports the Git server's share of it (the
// ref advertisement and receive-pack, run by git http-backend) and
// gitgate's own: the promotion's time less the server's.
func BenchmarkPromote(b *testing.B) {
	r := newBenchRepo(b)
	e := r.engine(b)
	var d, server, advert, own []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := promotion(fmt.Sprintf("bench-%d", i), "test", "dev")
		p.Spec.Revision = []string{r.revA, r.revB}[i%2]
		before, beforeAdvert := r.served.Load(), r.advertised.Load()
		start := time.Now()
		if _, err := e.Promote(context.Background(), PromotionRequest{Promotion: p, User: "bench"}); err != nil {
			b.Fatal(err)
		}
		took, served := time.Since(start), time.Duration(r.served.Load()-before)
		d, server, own = append(d, took), append(server, served), append(own, took-served)
		advert = append(advert, time.Duration(r.advertised.Load()-beforeAdvert))
	}
	reportPercentiles(b, d)
	b.ReportMetric(median(server), "server-p50-ms")
	b.ReportMetric(median(advert), "server-advertisement-p50-ms")
	b.ReportMetric(median(own), "gitgate-p50-ms")
}

// median is the middle of d, in ms.
func median(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}

// BenchmarkGitCLIPromotion is the same promotion done the way CI scripts do
// it today: shallow clone, edit the overlay, commit, push.
func BenchmarkGitCLIPromotion(b *testing.B) {
	r := newBenchRepo(b)
	var d []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(b.TempDir(), "clone")
		start := time.Now()
		steps := [][]string{
			{"clone", "-q", "--depth", "1", "--branch", "main", r.url, dir},
			{"-C", dir, "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "-a", "-m", "Promote dev into test"},
			{"-C", dir, "push", "-q", "origin", "main"},
		}
		for j, args := range steps {
			if j == 1 {
				file := filepath.Join(dir, "overlays/test/kustomization.yaml")
				if err := os.WriteFile(file, []byte(overlay(100000+i)), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				b.Fatalf("git %v: %v\n%s", args, err, out)
			}
		}
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

// BenchmarkListPromotions lists the promotions of one environment (all
// 9,999 in history), reading each, and reports the first page of 500
// apart. It also reports the cold start that built the
// engine (a fetch of everything and the first snapshot) and the live heap
// the engine then holds.
func BenchmarkListPromotions(b *testing.B) {
	benchCommits, _ := benchSize()
	r := newBenchRepo(b)
	heap := heapAfterGC()
	resetPeakRSS()
	start := time.Now()
	e := r.engine(b)
	coldStart := time.Since(start)
	engineHeap := heapAfterGC() - heap
	if n := e.Snapshot().PromotionCount(""); n != benchCommits-1 {
		b.Fatalf("indexed %d promotions, want %d", n, benchCommits-1)
	}
	var page []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The whole list, every promotion read, as a list without a limit does.
		n := 0
		for _, p := range e.Snapshot().Promotions("dev") {
			if p.Spec.Environment == "dev" {
				n++
			}
		}
		if n != benchCommits-1 {
			b.Fatalf("listed %d promotions of dev, want %d", n, benchCommits-1)
		}
		// The first page of 500, kubectl's chunk size.
		start := time.Now()
		n = 0
		for j, p := range e.Snapshot().Promotions("dev") {
			if j == 500 {
				break
			}
			if p.Spec.Environment == "dev" {
				n++
			}
		}
		page = append(page, time.Since(start))
		if n != 500 {
			b.Fatalf("first page has %d promotions, want 500", n)
		}
	}
	b.ReportMetric(median(page)*1000, "page-of-500-p50-µs")
	b.ReportMetric(float64(coldStart.Milliseconds()), "cold-start-ms")
	b.ReportMetric(float64(engineHeap>>20), "engine-heap-MB")
	b.ReportMetric(float64(peakRSS()>>20), "peak-RSS-MB")
}

// BenchmarkRefreshAfterOneCommit fetches and re-indexes after one new
// commit pushed by someone else.
func BenchmarkRefreshAfterOneCommit(b *testing.B) {
	r := newBenchRepo(b)
	e := r.engine(b)
	writer := r.engine(b)
	var d []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := promotion(fmt.Sprintf("other-%d", i), "test", "dev")
		p.Spec.Revision = []string{r.revA, r.revB}[i%2]
		if _, err := writer.Promote(context.Background(), PromotionRequest{Promotion: p, User: "other"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := e.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	if _, err := e.Snapshot().Promotion(fmt.Sprintf("other-%d", b.N-1)); err != nil {
		b.Fatalf("refresh did not index the new promotion: %v", err)
	}
	reportPercentiles(b, d)
}

// BenchmarkConsistentReadCheck is what a get or list without a
// resourceVersion adds when nothing changed: one ref advertisement.
func BenchmarkConsistentReadCheck(b *testing.B) {
	r := newBenchRepo(b)
	e := r.engine(b)
	var d []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := e.Sync(context.Background()); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

// BenchmarkPromoteWhileGitRefuses is the time to a 503 when the remote
// refuses connections.
func BenchmarkPromoteWhileGitRefuses(b *testing.B) {
	r := newBenchRepo(b)
	e := r.engine(b)
	if err := r.server.Stop(); err != nil {
		b.Fatal(err)
	}
	var d []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := promotion(fmt.Sprintf("down-%d", i), "test", "dev")
		start := time.Now()
		if _, err := e.Promote(context.Background(), PromotionRequest{Promotion: p, User: "bench"}); !errors.Is(err, ErrUnavailable) {
			b.Fatalf("promotion while Git refuses connections: %v, want ErrUnavailable", err)
		}
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}
