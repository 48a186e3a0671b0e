package promquery

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The outcomes of one request to the query API, the value of the "outcome" metric label.
const (
	OutcomeOK      = "ok"
	OutcomeEmpty   = "empty"   // answered, with no series
	OutcomeError   = "error"   // refused, failed, unreachable, too large
	OutcomeTimeout = "timeout" // no answer within the incident's query timeout
)

// Metrics count the requests to the query API. Register them once per registry (NewMetrics)
// and share them among the clients a reload builds.
type Metrics struct {
	queries  *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewMetrics registers the metrics with reg; a nil reg registers nothing.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		queries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_prometheus_queries_total",
			Help: "Requests to the Prometheus query API for metrics evidence, by outcome: ok, empty (no series), error, timeout.",
		}, []string{"outcome"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "triaged_prometheus_query_duration_seconds",
			Help:    "Time one request to the Prometheus query API took, answered or not.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	for _, o := range []string{OutcomeOK, OutcomeEmpty, OutcomeError, OutcomeTimeout} {
		m.queries.WithLabelValues(o)
	}
	return m
}

func (m *Metrics) observe(outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.queries.WithLabelValues(outcome).Inc()
	m.duration.Observe(seconds)
}
