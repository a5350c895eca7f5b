// Package metrics defines gitgate's Prometheus metrics, served on the API
// server's /metrics next to the generic apiserver's request metrics.
//
// Every label value is bounded, so that no request can grow the registry:
// namespaces and environments are recorded only when gitgate serves them
// ("other" otherwise), and the values that come from gitgate's own code
// (results, reasons, repositories) are capped in number ("other" past the
// cap) and in shape.
package metrics

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Other replaces a label value that is not known, or past its cap.
const Other = "other"

// Caps on the distinct values of labels that come from gitgate's code.
const (
	maxResults      = 16
	maxReasons      = 32
	maxRepositories = 256
)

var (
	promotions = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "gitgate", Name: "promotions_total",
		Help:           "Promotions requested, by namespace, target environment (\"other\" for one that does not exist) and result (Succeeded, Proposed, forbidden, invalid, conflict, unavailable, error).",
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

	// The caps live as long as the metrics they bound.
	results      = newCapped(maxResults)
	reasons      = newCapped(maxReasons)
	repositories = newCapped(maxRepositories)
	operations   = newCapped(maxResults)
)

// Register adds gitgate's metrics to the legacy registry that /metrics serves.
func Register() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(promotions, gitOperations, admissionDecisions)
	})
}

// Known says which label values a request may put in the registry.
type Known struct {
	// Namespace reports whether gitgate serves a namespace.
	Namespace func(namespace string) bool
	// Environment reports whether an environment exists in a namespace.
	Environment func(namespace, environment string) bool
}

// PromotionRecorder returns a function that counts one promotion outcome,
// with namespace and environment replaced by "other" unless known says
// they exist: a promotion into a made-up environment is counted, but adds
// no series.
func PromotionRecorder(known Known) func(namespace, environment, result string) {
	return func(namespace, environment, result string) {
		if known.Namespace == nil || !known.Namespace(namespace) {
			namespace, environment = Other, Other
		} else if known.Environment == nil || !known.Environment(namespace, environment) {
			environment = Other
		}
		promotions.WithLabelValues(namespace, environment, results.value(result)).Inc()
	}
}

// GitObserver returns a function that records a repository's Git operations.
func GitObserver(repository string) func(operation string, took time.Duration, err error) {
	repository = repositories.value(repository)
	return func(operation string, took time.Duration, err error) {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		gitOperations.WithLabelValues(repository, operations.value(operation), outcome).Observe(took.Seconds())
	}
}

// RecordAdmission counts one admission decision.
func RecordAdmission(reason string, allowed bool) {
	admissionDecisions.WithLabelValues(reasons.value(reason), strconv.FormatBool(allowed)).Inc()
}

// capped lets through at most max distinct label values, each a short
// word; every further value becomes Other.
type capped struct {
	max  int
	mu   sync.Mutex
	seen map[string]bool
}

func newCapped(max int) *capped { return &capped{max: max, seen: map[string]bool{}} }

func (c *capped) value(v string) string {
	if !labelShaped(v) {
		return Other
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[v] {
		return v
	}
	if len(c.seen) >= c.max {
		return Other
	}
	c.seen[v] = true
	return v
}

// labelShaped reports whether v looks like a value gitgate writes: a
// name of at most 63 letters, digits, '-', '_' or '.'.
func labelShaped(v string) bool {
	if v == "" || len(v) > 63 {
		return false
	}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}
