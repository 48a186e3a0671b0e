package triage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged"
)

type metrics struct {
	latency     *prometheus.HistogramVec
	age         prometheus.Histogram
	updates     *prometheus.CounterVec
	absorbed    prometheus.Counter
	open        *prometheus.GaugeVec
	flapping    prometheus.Gauge
	stage       *prometheus.HistogramVec
	reports     *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	redelivered prometheus.Counter
	retried     prometheus.Counter
	terminated  *prometheus.CounterVec
	pending     prometheus.Gauge
	pendingAt   prometheus.Gauge
	ackPending  prometheus.Gauge
	busy        prometheus.Gauge
	workers     prometheus.Gauge
	// recordsTrimmed counts incident records trimmed to fit NATS' max payload (see fitRecord).
	recordsTrimmed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "triaged_triage_latency_seconds",
			Help: "Time from the webhook reaching triaged to the report it caused being made, by event and severity.",
			// 1 ms to 30 s: in-process NATS answers in a millisecond, enrichment may take seconds.
			Buckets:                         []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"event", "severity"}),
		age: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "triaged_alert_age_at_first_report_seconds",
			Help:    "Time from an incident's first alert starting (startsAt) to its opening report: Alertmanager's group_wait and for: included.",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		updates: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_incident_updates_total",
			Help: "Updated reports, by reason: joined, recovered, refired, severity, coalesced, flapping, stable, enrichment (found after the opening).",
		}, []string{"reason"}),
		absorbed: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_alerts_absorbed_total",
			Help: "Alerts of notifications that changed nothing in their incident (a resend after the stream's duplicate window, another Alertmanager of an HA pair).",
		}),
		open: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "triaged_incidents_open",
			Help: "Open incidents by severity, as last counted in the incidents bucket (every replica counts the same incidents).",
		}, []string{"severity"}),
		flapping: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_incidents_flapping",
			Help: "Incidents marked flapping, as last counted in the incidents bucket.",
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
			Help: "Notifications that changed no incident, by reason (unchanged: every alert as already known; resolved_unseen: a resolution of a group with no incident).",
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
		pendingAt: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_consumer_pending_last_update_timestamp_seconds",
			Help: "When the pending and ack-pending gauges were last read from NATS; they are stale while it lags (NATS unreachable, consumer missing).",
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
		recordsTrimmed: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_incident_records_trimmed_total",
			Help: "Incident records trimmed (evidence, waiting changes, members) to fit what NATS stores in one message.",
		}),
	}
	for _, s := range []string{"decode", "incident", "classify", "enrich", "escalate", "report", "publish"} {
		m.stage.WithLabelValues(s)
	}
	for _, e := range []triaged.Event{triaged.EventOpened, triaged.EventUpdated, triaged.EventResolved, triaged.EventReopened} {
		for _, s := range triaged.Severities {
			m.reports.WithLabelValues(string(e), s.String())
		}
	}
	for _, r := range []string{skipResolvedUnseen, skipUnchanged} {
		m.skipped.WithLabelValues(r)
	}
	for _, r := range []string{"joined", "recovered", "refired", "severity", "coalesced", "flapping", "stable", "enrichment"} {
		m.updates.WithLabelValues(r)
	}
	for _, s := range triaged.Severities {
		m.open.WithLabelValues(s.String())
	}
	for _, r := range []string{"undecodable", "panic"} {
		m.terminated.WithLabelValues(r)
	}
	return m
}
