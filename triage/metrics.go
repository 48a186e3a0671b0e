package triage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged"
)

type metrics struct {
	latency     prometheus.Histogram
	stage       *prometheus.HistogramVec
	reports     *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	redelivered prometheus.Counter
	retried     prometheus.Counter
	terminated  *prometheus.CounterVec
	pending     prometheus.Gauge
	ackPending  prometheus.Gauge
	busy        prometheus.Gauge
	workers     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		latency: f.NewHistogram(prometheus.HistogramOpts{
			Name: "triaged_triage_latency_seconds",
			Help: "Time from the webhook reaching triaged to the alert's report being on the reports stream.",
			// 1 ms to 30 s: in-process NATS answers in a millisecond, enrichment may take seconds.
			Buckets:                         []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}),
		stage: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triaged_triage_stage_duration_seconds",
			Help:    "Time spent in each stage of triaging one alert message.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5, 10},
		}, []string{"stage"}),
		reports: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_reports_published_total",
			Help: "Reports put on the reports stream, by event and severity.",
		}, []string{"event", "severity"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_alerts_skipped_total",
			Help: "Alert messages that called for no new report, by reason (duplicate: already reported; stale: overtaken by its resolution).",
		}, []string{"reason"}),
		redelivered: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_messages_redelivered_total",
			Help: "Alert messages received again after an earlier delivery was not acknowledged.",
		}),
		retried: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_messages_retried_total",
			Help: "Alert messages handed back for a later retry after a transient failure.",
		}),
		terminated: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_messages_terminated_total",
			Help: "Alert messages given up for good, by reason (undecodable, panic).",
		}, []string{"reason"}),
		pending: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_consumer_pending_messages",
			Help: "Alert messages on the stream not yet delivered to any worker.",
		}),
		ackPending: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_consumer_ack_pending_messages",
			Help: "Alert messages delivered to a worker and not yet acknowledged, across replicas.",
		}),
		busy: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_workers_busy",
			Help: "Workers of this replica handling a message now.",
		}),
		workers: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_workers",
			Help: "Size of this replica's triage worker pool.",
		}),
	}
	for _, s := range []string{"decode", "incident", "classify", "enrich", "escalate", "report", "publish"} {
		m.stage.WithLabelValues(s)
	}
	for _, e := range []triaged.Event{triaged.EventOpened, triaged.EventUpdated, triaged.EventResolved} {
		for _, s := range triaged.Severities {
			m.reports.WithLabelValues(string(e), s.String())
		}
	}
	for _, r := range []string{"duplicate", "stale"} {
		m.skipped.WithLabelValues(r)
	}
	for _, r := range []string{"undecodable", "panic"} {
		m.terminated.WithLabelValues(r)
	}
	return m
}
