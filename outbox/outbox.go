// Package outbox delivers reports from the reports stream to sinks, one durable consumer per
// sink, so a sink that is down only delays its own deliveries and gets every report once it is
// back.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
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

// Metrics are shared by every sink's deliverer.
type Metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

// NewMetrics registers the delivery metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		deliveries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_notifications_total",
			Help: "Report deliveries to sinks, by sink and result (success, failure, undecodable).",
		}, []string{"sink", "result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triaged_notification_duration_seconds",
			Help:    "Time taken by one delivery of a report to a sink.",
			Buckets: prometheus.ExponentialBuckets(.0005, 4, 10),
		}, []string{"sink"}),
	}
}

// Options tunes one deliverer.
type Options struct {
	Timeout      time.Duration   // per delivery attempt
	RetryBackoff []time.Duration // delay before the n-th retry; the last repeats
	// DeadLetters takes the undecodable reports and those whose delivery failed on every
	// delivery it allows. Nil: they are terminated, or retried forever.
	DeadLetters *broker.DeadLetters
	Logger      *slog.Logger
	// Route says whether the sink gets a report, and in which channel (route.Router.For bound
	// to the sink). Nil: every report, in the sink's default channel.
	Route func(rep *triaged.Report) (channel string, deliver bool)
}

// Deliverer feeds one sink from its consumer.
type Deliverer struct {
	sink    notify.Sink
	o       Options
	log     *slog.Logger
	metrics *Metrics
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
	for _, r := range []string{"success", "failure", "undecodable"} {
		m.deliveries.WithLabelValues(sink.Name(), r)
	}
	return &Deliverer{sink: sink, o: o, metrics: m, log: o.Logger.With("component", "outbox", "sink", sink.Name())}
}

// Run delivers reports in order, one at a time, until ctx is done.
func (d *Deliverer) Run(ctx context.Context, c jetstream.Consumer) error {
	return broker.Run(ctx, c, broker.RunOptions{Workers: 1, Logger: d.log, DeadLetters: d.o.DeadLetters}, d.Handle)
}

// Handle delivers one report message and makes its ack decision.
func (d *Deliverer) Handle(ctx context.Context, m jetstream.Msg) {
	rep, err := triaged.DecodeReport(m.Data())
	if err != nil {
		d.log.Error("report undecodable; dead-lettered", "subject", m.Subject(), "err", err)
		d.metrics.deliveries.WithLabelValues(d.sink.Name(), "undecodable").Inc()
		d.o.DeadLetters.Send(ctx, m, broker.ReasonUndecodable, fmt.Errorf("undecodable report: %w", err), d.o.RetryBackoff[0])
		return
	}
	var channel string
	if d.o.Route != nil {
		var deliver bool
		if channel, deliver = d.o.Route(rep); !deliver {
			d.log.Debug("report not routed to this sink", "incident", rep.IncidentID, "report", rep.ID)
			_ = m.Ack()
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	start := time.Now()
	_, err = d.sink.Deliver(ctx, notify.Delivery{Report: rep, Channel: channel})
	d.metrics.duration.WithLabelValues(d.sink.Name()).Observe(time.Since(start).Seconds())
	if err != nil {
		delay, n := broker.RetryDelay(m, d.o.RetryBackoff)
		d.metrics.deliveries.WithLabelValues(d.sink.Name(), "failure").Inc()
		if d.o.DeadLetters.Exhausted(m) {
			d.o.DeadLetters.Send(ctx, m, broker.ReasonExhausted, fmt.Errorf("delivery to sink %s: %w", d.sink.Name(), err), delay)
			return
		}
		d.log.Warn("delivery failed; will retry", "incident", rep.IncidentID, "report", rep.ID, "attempt", n, "retry_in", delay, "err", err)
		_ = m.NakWithDelay(delay)
		return
	}
	d.metrics.deliveries.WithLabelValues(d.sink.Name(), "success").Inc()
	_ = m.Ack()
}
