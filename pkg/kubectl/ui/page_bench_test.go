package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"k8s.io/client-go/rest"
)

// BenchmarkPageWith200EnvironmentsAnd10000Promotions measures, in Debian's
// headless Chromium, the time from opening the page to 200 environment
// cards and the first page of promotions drawn (as this harness sees it,
// and by the page's own clock), until the permission checks are in (from
// one rules review, or from 402 access reviews when the rules review is
// incomplete), and then the time to load one older page, with a cluster of
// 200 environments (ten pipelines of twenty) and 10,000 promotions (one in
// ten Proposed, with Approve and Reject) answered from memory in the API's
// paged shape. The page's own work is what is measured; the end-to-end tests
// drive the real API.
//
//	go test -run '^$' -bench Page -benchtime 5x ./pkg/kubectl/ui/
func BenchmarkPageWith200EnvironmentsAnd10000Promotions(b *testing.B) {
	b.Run("rules review", func(b *testing.B) { benchmarkPage(b, false) })
	b.Run("access reviews (incomplete rules)", func(b *testing.B) { benchmarkPage(b, true) })
}

func benchmarkPage(b *testing.B, incompleteRules bool) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		b.Fatal("Debian's chromium is not installed: run make chromium")
	}
	cluster := httptest.NewServer(bigCluster(200, 10000, incompleteRules))
	defer cluster.Close()
	s, err := New(Options{Namespace: "shop", Config: &rest.Config{Host: cluster.URL}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx)

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Flag("headless", true), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(b.TempDir()))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		b.Fatal(err)
	}
	count := func(selector string) int {
		n, _ := chromedp.Run(browser, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, selector)))
		return n
	}
	checking := func() int {
		n, _ := chromedp.Run(browser, chromedp.Evaluate[int](`[...document.querySelectorAll('.reason')].filter((e) => e.textContent.startsWith('Checking')).length`))
		return n
	}
	waitFor := func(what string, ok func() bool) {
		deadline := time.Now().Add(time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				b.Fatalf("%s: not after a minute", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var open, drawn, checked, older time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := chromedp.Do(browser, chromedp.Navigate(s.URL())); err != nil {
			b.Fatal(err)
		}
		waitFor("200 cards and 50 promotions", func() bool {
			return count("article.env") == 200 && count("#promotions tbody tr") == 50
		})
		open += time.Since(start)
		// The page's own clock: from navigation to the pipeline's first
		// drawn frame, without this harness's polling.
		ms, err := chromedp.Run(browser, chromedp.Evaluate[float64](`(performance.getEntriesByName('gitgate:pipeline-drawn')[0] || {startTime: -1}).startTime`))
		if err != nil || ms < 0 {
			b.Fatalf("the page marked no first draw: %v", err)
		}
		drawn += time.Duration(ms * float64(time.Millisecond))
		waitFor("the permission checks of 200 environments", func() bool { return checking() == 0 })
		checked += time.Since(start)
		start = time.Now()
		if _, err := chromedp.Run(browser, chromedp.Evaluate[int](`document.querySelector('#more').click(); 0`)); err != nil {
			b.Fatal(err)
		}
		waitFor("the older page", func() bool { return count("#promotions tbody tr") == 100 })
		older += time.Since(start)
	}
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "ms/open")
	b.ReportMetric(float64(drawn.Milliseconds())/float64(b.N), "ms/first-draw-in-page")
	b.ReportMetric(float64(checked.Milliseconds())/float64(b.N), "ms/permissions-checked")
	b.ReportMetric(float64(older.Milliseconds())/float64(b.N), "ms/older-page")
}

// bigCluster answers the page's requests for a namespace of envs
// environments and promotions promotions, paging promotions by limit and
// continue (an offset here), and keeping watches open.
func bigCluster(envs, promotions int, incomplete bool) http.Handler {
	type obj = map[string]any
	var items []obj
	for i := 0; i < envs; i++ {
		name := fmt.Sprintf("app%02d-stage%02d", i/20, i%20)
		spec := obj{"path": "overlays/" + name, "strategy": "Images"}
		if i%20 > 0 {
			spec["promotesFrom"] = fmt.Sprintf("app%02d-stage%02d", i/20, i%20-1)
		}
		items = append(items, obj{"metadata": obj{"name": name}, "spec": spec, "status": obj{
			"revision": fmt.Sprintf("%040x", i),
			"images":   []obj{{"name": "app", "image": "registry.example.com/app:version-1." + strconv.Itoa(i), "tag": "version-1." + strconv.Itoa(i)}},
			"upstream": obj{"environment": "x", "pending": []obj{{"name": "app", "from": "version-1.0", "to": "version-1." + strconv.Itoa(i)}}},
			"sync":     obj{"ready": true, "appliedRevision": "main@sha1:abc", "upToDate": true},
		}})
	}
	envList, _ := json.Marshal(obj{"kind": "EnvironmentList", "metadata": obj{"resourceVersion": "1"}, "items": items})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		switch {
		case q.Get("watch") != "":
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case strings.HasSuffix(r.URL.Path, "/environments"):
			w.Write(envList)
		case strings.HasSuffix(r.URL.Path, "/promotions"):
			limit, _ := strconv.Atoi(q.Get("limit"))
			from, _ := strconv.Atoi(q.Get("continue"))
			var page []obj
			for i := from; i < promotions && i < from+limit; i++ {
				page = append(page, obj{"metadata": obj{"name": fmt.Sprintf("p-%05d", promotions-i)},
					"spec":   obj{"environment": "app00-stage01", "from": "app00-stage00"},
					"status": proposedOrSucceeded(i)})
			}
			meta := obj{"resourceVersion": "1"}
			if from+limit < promotions {
				meta["continue"] = strconv.Itoa(from + limit)
			}
			json.NewEncoder(w).Encode(obj{"kind": "PromotionList", "metadata": meta, "items": page})
		case strings.HasSuffix(r.URL.Path, "selfsubjectrulesreviews"):
			// The user's rules: promote and approve anywhere; or none and
			// incomplete (an authorizer that cannot list them), which makes
			// the server fall back to one access review per button.
			if incomplete {
				w.Write([]byte(`{"status":{"incomplete":true,"resourceRules":[]}}`))
				return
			}
			w.Write([]byte(`{"status":{"resourceRules":[{"verbs":["create"],"apiGroups":["gitgate.dev"],"resources":["promotions","promotions/approval"]},{"verbs":["promote","approve"],"apiGroups":["gitgate.dev"],"resources":["environments"]}]}}`))
		case strings.HasSuffix(r.URL.Path, "selfsubjectaccessreviews"):
			w.Write([]byte(`{"status":{"allowed":true}}`))
		default:
			w.Write([]byte(`{"status":{"userInfo":{"username":"bob"}}}`))
		}
	})
}

// proposedOrSucceeded is the status of the i-th promotion: one in ten is
// Proposed and waits for approvals, so its row has Approve and Reject.
func proposedOrSucceeded(i int) map[string]any {
	if i%10 == 0 {
		return map[string]any{"phase": "Proposed", "promotedBy": "alice", "time": "2026-11-29T10:00:00Z", "commit": "abc",
			"approvalsRequired": 2, "approvals": []map[string]any{{"by": "carol"}}}
	}
	return map[string]any{"phase": "Succeeded", "promotedBy": "bob", "time": "2026-11-29T10:00:00Z", "commit": "abc"}
}
