package metrics

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/component-base/metrics/legacyregistry"
)

// series counts the series of a metric family in the served registry.
func series(t *testing.T, name string) map[string]bool {
	t.Helper()
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + ","
			}
			out[key] = true
		}
	}
	return out
}

func TestRequestsCannotGrowTheRegistry(t *testing.T) {
	Register()
	known := Known{
		Namespace:   func(ns string) bool { return ns == "shop" },
		Environment: func(ns, env string) bool { return ns == "shop" && (env == "dev" || env == "prod") },
	}
	record := PromotionRecorder(known)
	tests := []struct {
		name   string
		record func(i int)
		metric string
		want   int // series after 1000 calls
	}{
		{"bounded: promotions into made-up environments count as other", func(i int) {
			record("shop", fmt.Sprintf("env-%d", i), "forbidden")
		}, "gitgate_promotions_total", 1},
		{"bounded: promotions in unserved namespaces count as other", func(i int) {
			record(fmt.Sprintf("ns-%d", i), "prod", "invalid")
		}, "gitgate_promotions_total", 2},
		{"kept: known environments keep their names", func(i int) {
			record("shop", []string{"dev", "prod"}[i%2], "Succeeded")
		}, "gitgate_promotions_total", 4},
		{"bounded: results past the cap count as other", func(i int) {
			record("shop", "dev", fmt.Sprintf("Result%d", i))
		}, "gitgate_promotions_total", 4 + (maxResults - 3) + 1}, // forbidden, invalid and Succeeded took 3 places
		{"bounded: admission reasons past the cap count as other", func(i int) {
			RecordAdmission(fmt.Sprintf("Reason%d", i), false)
		}, "gitgate_admission_decisions_total", maxReasons + 1},
		{"bounded: reasons of another shape count as other", func(i int) {
			RecordAdmission(fmt.Sprintf("reason with spaces %d", i), true)
		}, "gitgate_admission_decisions_total", maxReasons + 2},
		{"bounded: repositories past the cap count as other", func(i int) {
			GitObserver(fmt.Sprintf("repo-%d", i))("fetch", time.Millisecond, errors.New("down"))
		}, "gitgate_git_operation_duration_seconds", maxRepositories + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 1000; i++ {
				tt.record(i)
			}
			if got := len(series(t, tt.metric)); got != tt.want {
				t.Fatalf("%s has %d series after 1000 distinct values, want %d: %v", tt.metric, got, tt.want, series(t, tt.metric))
			}
		})
	}
}
