// Package outbox delivers reports from the reports stream to sinks, one durable consumer per
// sink, so a sink that is down only delays its own deliveries and gets every report once it is
// back. It delivers several incidents at once and each incident's reports in order, and records
// per sink and incident what went out, so each report reaches each sink once, across restarts and
// replicas.
package outbox

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/notify"
)

// MaxDeliveries bounds the deliveries of one report to one sink. With the retry backoff capped
// at its last step (30s by default), it outlasts an outage of the chat service of about four
// hours; after that the report is a dead letter, to be replayed with triagetool.
const MaxDeliveries = 500

// Results of a delivery, the result label of triaged_notifications_total.
const (
	resultSuccess     = "success"      // delivered
	resultFailure     = "failure"      // failed; retried with backoff
	resultRateLimited = "rate_limited" // the service asked to retry later (Retry-After)
	resultPermanent   = "permanent"    // refused for good: dead-lettered
	resultExhausted   = "exhausted"    // failed on every allowed delivery: dead-lettered
	resultUndecodable = "undecodable"  // not a report: dead-lettered
	resultUnrouted    = "unrouted"     // routing sends it elsewhere: acknowledged
	resultDuplicate   = "duplicate"    // delivered already: acknowledged without calling the sink
)

var results = []string{resultSuccess, resultFailure, resultRateLimited, resultPermanent, resultExhausted, resultUndecodable, resultUnrouted, resultDuplicate}

// Metrics are shared by every sink's deliverer.
type Metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	latency    *prometheus.HistogramVec
	age        *prometheus.HistogramVec
	backlog    *prometheus.GaugeVec
}

// NewMetrics registers the delivery metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		deliveries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_notifications_total",
			Help: "Reports handled by sinks' deliverers, by sink and result (success, failure, rate_limited, permanent, exhausted, undecodable, unrouted, duplicate).",
		}, []string{"sink", "result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triaged_notification_duration_seconds",
			Help:    "Time taken by one delivery of a report to a sink.",
			Buckets: prometheus.ExponentialBuckets(.0005, 4, 10),
		}, []string{"sink"}),
		latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triaged_delivery_latency_seconds",
			Help:    "Time from a report being made to its delivery to a sink, retries included, by sink and severity.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"sink", "severity"}),
		age: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triaged_alert_age_at_delivery_seconds",
			Help:    "Time from the incident's first alert starting (startsAt) to a report of it being delivered to a sink, by sink and severity.",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600},
		}, []string{"sink", "severity"}),
		backlog: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "triaged_sink_backlog_messages",
			Help: "Reports not yet delivered to a sink: waiting on the stream plus handed out and not acknowledged, across replicas (the consumer's pending and ack-pending).",
		}, []string{"sink"}),
	}
}

// Options tunes one deliverer.
type Options struct {
	// Deliveries is the bucket of delivery records (broker.Topology.Deliveries): required.
	Deliveries jetstream.KeyValue
	// Concurrency is how many incidents are delivered at once (0: broker.DefaultSinkConcurrency);
	// one incident's reports go one at a time, in order. The sink's consumer must allow it
	// (broker.SinkMaxAckPending).
	Concurrency  int
	Timeout      time.Duration   // per delivery attempt
	RetryBackoff []time.Duration // delay before the n-th retry; the last repeats
	// DeadLetters takes the undecodable reports and those whose delivery failed for good or on
	// every delivery it allows. Nil: they are terminated, or retried forever.
	DeadLetters *broker.DeadLetters
	// Route says whether a report goes to this sink, and to which channel ("" for the sink's
	// default). Nil: every report, to the default channel.
	Route func(rep *triaged.Report) (channel string, deliver bool)
	// BacklogEvery is how often the backlog gauge is read from NATS (0: 5s).
	BacklogEvery time.Duration
	// ArchiveEvery is how often the incident channels due for archiving are looked for, when
	// the sink archives them (notify.Archiver; 0: a quarter of its archive_after, between
	// 100ms and 30s).
	ArchiveEvery time.Duration
	Logger       *slog.Logger
}

// Deliverer feeds one sink from its consumer.
type Deliverer struct {
	sink    notify.Sink
	o       Options
	log     *slog.Logger
	metrics *Metrics
	records records
}

// NewDeliverer returns the deliverer of sink.
func NewDeliverer(sink notify.Sink, m *Metrics, o Options) *Deliverer {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if len(o.RetryBackoff) == 0 {
		o.RetryBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Concurrency = cmp.Or(max(o.Concurrency, 0), broker.DefaultSinkConcurrency)
	o.BacklogEvery = cmp.Or(max(o.BacklogEvery, 0), 5*time.Second)
	for _, r := range results {
		m.deliveries.WithLabelValues(sink.Name(), r)
	}
	for _, s := range triaged.Severities {
		m.latency.WithLabelValues(sink.Name(), s.String())
		m.age.WithLabelValues(sink.Name(), s.String())
	}
	m.backlog.WithLabelValues(sink.Name())
	return &Deliverer{
		sink: sink, o: o, metrics: m,
		log:     o.Logger.With("component", "outbox", "sink", sink.Name()),
		records: records{kv: o.Deliveries, sink: sink.Name()},
	}
}

// errNoBucket is Run's error when the deliverer has no bucket to record deliveries in.
var errNoBucket = errors.New("outbox: no deliveries bucket: cannot deliver exactly once")

// Run delivers reports until ctx is done: up to Concurrency incidents at once, each incident's
// reports in order. Then it stops pulling, finishes the deliveries under way, and hands the
// reports still waiting back to the stream.
func (d *Deliverer) Run(ctx context.Context, c jetstream.Consumer) error {
	if d.o.Deliveries == nil {
		return errNoBucket
	}
	ackWait := cmp.Or(c.CachedInfo().Config.AckWait, 30*time.Second)
	e := newEngine(d, ackWait)
	var wg sync.WaitGroup
	pollCtx, stopPoll := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() { e.heartbeat(pollCtx, ackWait/3) })
	wg.Go(func() { d.pollBacklog(pollCtx, c) })
	if a, ok := notify.AsArchiver(d.sink); ok {
		wg.Go(func() { d.runArchiver(ctx, a) })
	}
	err := broker.Feed(ctx, c, 2*d.o.Concurrency, d.log, e.dispatch)
	e.stop()
	stopPoll()
	wg.Wait()
	return err
}

// pollBacklog keeps the backlog gauge current without a NATS round trip per scrape.
func (d *Deliverer) pollBacklog(ctx context.Context, c jetstream.Consumer) {
	t := time.NewTicker(d.o.BacklogEvery)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := c.Info(ictx)
		cancel()
		if err == nil {
			d.metrics.backlog.WithLabelValues(d.sink.Name()).Set(float64(info.NumPending) + float64(info.NumAckPending))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
