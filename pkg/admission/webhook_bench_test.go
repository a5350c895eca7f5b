package admission

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

// BenchmarkWebhookHTTPS posts AdmissionReviews over TLS on loopback: a
// managed object refused (the costliest answer), with 1, 50 and 500
// concurrent clients, and paced at 1,000 requests/s. It reports p50 and p99
// latency and requests/s. Every loop is bounded and stays on 127.0.0.1.
func BenchmarkWebhookHTTPS(b *testing.B) {
	h := &Handler{Policy: DefaultPolicy(), Owners: lookup}
	server := httptest.NewTLSServer(h)
	defer server.Close()
	body := review(admissionv1.Update, "alice", false, fluxLabels(), fluxLabels())

	newClient := func(conns int) *http.Client {
		c := server.Client()
		c.Transport.(*http.Transport).MaxIdleConnsPerHost = conns
		c.Timeout = 10 * time.Second
		return c
	}
	post := func(c *http.Client) (time.Duration, error) {
		start := time.Now()
		resp, err := c.Post(server.URL+"/validate", "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}

	for _, clients := range []int{1, 50, 500} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := newClient(clients)
			latencies := make([]time.Duration, b.N)
			var next int
			var mu sync.Mutex
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < clients; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						mu.Lock()
						i := next
						next++
						mu.Unlock()
						if i >= b.N {
							return
						}
						d, err := post(c)
						if err != nil {
							b.Error(err)
							return
						}
						latencies[i] = d
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			report(b, latencies, float64(b.N)/elapsed.Seconds())
		})
	}

	b.Run("paced=1000rps", func(b *testing.B) {
		const rate, total = 1000, 2000 // two seconds, whatever b.N is
		c := newClient(64)
		latencies := make([]time.Duration, total)
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		var wg sync.WaitGroup
		b.ResetTimer()
		for i := 0; i < total; i++ {
			<-tick.C
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				d, err := post(c)
				if err != nil {
					b.Error(err)
				}
				latencies[i] = d
			}(i)
		}
		wg.Wait()
		b.StopTimer()
		report(b, latencies, rate)
	})
}

func report(b *testing.B, latencies []time.Duration, rps float64) {
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(rps, "req/s")
}
