package enrich

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	duration *prometheus.HistogramVec
	results  *prometheus.CounterVec
	overdue  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triaged_enrichment_duration_seconds",
			Help:    "Time one enricher took for one incident.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"enricher"}),
		results: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_enrichment_results_total",
			Help: "Enricher runs by outcome: ok, failed (an error, a failed probe), timeout (the deadline cut it off).",
		}, []string{"enricher", "outcome"}),
		overdue: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_enrichment_overdue_goroutines",
			Help: "Enrichers abandoned at their incident's deadline that are still running; a value that keeps growing is an enricher that ignores its deadline.",
		}),
	}
	for _, k := range kinds {
		m.duration.WithLabelValues(string(k))
		for _, out := range outcomes {
			m.results.WithLabelValues(string(k), string(out))
		}
	}
	return m
}
