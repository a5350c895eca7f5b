// Package metrics defines gitgate's Prometheus metrics, served on the API
// server's /metrics next to the generic apiserver's request metrics.
package metrics

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	promotions = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "gitgate", Name: "promotions_total",
		Help:           "Promotions requested, by namespace, target environment and result (Succeeded, Proposed, forbidden, invalid, conflict, unavailable, error).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"namespace", "environment", "result"})
	gitOperations = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace: "gitgate", Name: "git_operation_duration_seconds",
		Help:           "Latency of Git network operations, by repository, operation (fetch, push) and outcome (ok, error).",
		Buckets:        []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		StabilityLevel: metrics.ALPHA,
	}, []string{"repository", "operation", "outcome"})
	admissionDecisions = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "gitgate", Name: "admission_decisions_total",
		Help:           "Admission decisions, by reason (NotManaged, AllowedIdentity, Managed, BreakGlass, ...) and whether the request was allowed.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason", "allowed"})
	registerOnce sync.Once
)

// Register adds gitgate's metrics to the legacy registry that /metrics serves.
func Register() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(promotions, gitOperations, admissionDecisions)
	})
}

// RecordPromotion counts one promotion outcome.
func RecordPromotion(namespace, environment, result string) {
	promotions.WithLabelValues(namespace, environment, result).Inc()
}

// GitObserver returns a function that records a repository's Git operations.
func GitObserver(repository string) func(operation string, took time.Duration, err error) {
	return func(operation string, took time.Duration, err error) {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		gitOperations.WithLabelValues(repository, operation, outcome).Observe(took.Seconds())
	}
}

// RecordAdmission counts one admission decision.
func RecordAdmission(reason string, allowed bool) {
	admissionDecisions.WithLabelValues(reason, strconv.FormatBool(allowed)).Inc()
}
