package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Object is one JetStream object triage needs: a stream, a durable consumer or a key-value
// bucket. An operator's `nats stream rm`, a consumer deleted by hand or a NATS server that lost
// its data takes one away; the Healer puts it back.
type Object struct {
	Kind   string // "stream", "consumer" or "bucket"
	Name   string
	Stream string // a consumer's stream
}

func (o Object) String() string {
	if o.Kind == "consumer" {
		return "consumer " + o.Name + " on " + o.Stream
	}
	return o.Kind + " " + o.Name
}

// Objects lists what Ensure, the deploys stream and EnsureSinkConsumer create for these sinks,
// streams before what lives on them.
func Objects(n Names, sinks []string) []Object {
	objs := []Object{
		{Kind: "stream", Name: n.AlertsStream()},
		{Kind: "stream", Name: n.ReportsStream()},
		{Kind: "stream", Name: n.DeadLettersStream()},
		{Kind: "stream", Name: n.DeploysStream()},
		{Kind: "stream", Name: n.HistoryStream()},
		{Kind: "bucket", Name: n.IncidentsBucket()},
		{Kind: "bucket", Name: n.DeliveriesBucket()},
		{Kind: "bucket", Name: n.GraphsBucket()},
		{Kind: "consumer", Name: n.TriageConsumer(), Stream: n.AlertsStream()},
		{Kind: "consumer", Name: n.TimerConsumer(), Stream: n.AlertsStream()},
	}
	for _, s := range sinks {
		objs = append(objs, Object{Kind: "consumer", Name: n.SinkConsumer(s), Stream: n.ReportsStream()})
	}
	return objs
}

// errMissing marks an object found not to exist, as opposed to one that could not be looked up.
var errMissing = errors.New("missing")

// exists looks o up: nil when it is there, errMissing when NATS says it is not.
func exists(ctx context.Context, js jetstream.JetStream, o Object) error {
	var err error
	switch o.Kind {
	case "stream":
		_, err = js.Stream(ctx, o.Name)
	case "consumer":
		_, err = js.Consumer(ctx, o.Stream, o.Name)
	case "bucket":
		_, err = js.KeyValue(ctx, o.Name)
	default:
		return fmt.Errorf("unknown kind of object %q", o.Kind)
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return errMissing
	}
	return err
}

// HealerOptions wires a Healer.
type HealerOptions struct {
	Objects []Object
	// Repair creates or updates the whole configured topology (it is idempotent); it runs when
	// anything is found missing.
	Repair func(ctx context.Context) error
	// Interval between checks; a check also runs at every reconnect and when asked (Kick).
	Interval   time.Duration
	Conn       *nats.Conn // optional: reconnects trigger a check
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Healer notices JetStream objects that went missing and recreates them with the configured
// topology, so a deleted consumer or a NATS server restarted without its data does not stop
// triage silently.
type Healer struct {
	js      jetstream.JetStream
	o       HealerOptions
	kick    chan struct{}
	mu      sync.Mutex
	missing []Object // as of the last check

	missingGauge prometheus.Gauge
	recreated    *prometheus.CounterVec
	failed       prometheus.Counter
}

// NewHealer returns a Healer; Run starts it.
func NewHealer(js jetstream.JetStream, o HealerOptions) *Healer {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	f := promauto.With(o.Registerer)
	h := &Healer{
		js:   js,
		o:    o,
		kick: make(chan struct{}, 1),
		missingGauge: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_nats_objects_missing",
			Help: "JetStream streams, consumers and buckets triaged needs that were missing at the last check.",
		}),
		recreated: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_nats_objects_recreated_total",
			Help: "JetStream objects found missing and recreated with the configured topology, by kind.",
		}, []string{"kind"}),
		failed: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_nats_repairs_failed_total",
			Help: "Attempts to recreate missing JetStream objects that failed; retried at the next check.",
		}),
	}
	for _, k := range []string{"stream", "consumer", "bucket"} {
		h.recreated.WithLabelValues(k)
	}
	return h
}

// Kick asks for a check soon, without waiting for it.
func (h *Healer) Kick() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Check looks every object up now. It returns an error naming what is missing or could not be
// looked up, for readiness, and asks for a repair when something is missing.
func (h *Healer) Check(ctx context.Context) error {
	missing, errs := h.look(ctx)
	if len(missing) > 0 {
		h.Kick()
		names := make([]string, len(missing))
		for i, o := range missing {
			names[i] = o.String()
		}
		errs = append([]error{fmt.Errorf("missing in NATS, being recreated: %s", strings.Join(names, ", "))}, errs...)
	}
	return errors.Join(errs...)
}

func (h *Healer) look(ctx context.Context) (missing []Object, errs []error) {
	for _, o := range h.o.Objects {
		err := exists(ctx, h.js, o)
		switch {
		case errors.Is(err, errMissing):
			missing = append(missing, o)
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
		}
	}
	h.mu.Lock()
	h.missing = missing
	h.mu.Unlock()
	h.missingGauge.Set(float64(len(missing)))
	return missing, errs
}

// Run checks at every interval, reconnect and Kick, and repairs what is missing, until ctx is
// done.
func (h *Healer) Run(ctx context.Context) error {
	var reconnected <-chan nats.Status
	if h.o.Conn != nil {
		ch := h.o.Conn.StatusChanged(nats.CONNECTED)
		defer h.o.Conn.RemoveStatusListener(ch)
		reconnected = ch
	}
	t := time.NewTicker(h.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-h.kick:
		case <-reconnected:
		}
		h.heal(ctx)
	}
}

// heal repairs the topology if anything is missing, and logs what it recreated.
func (h *Healer) heal(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	missing, _ := h.look(cctx)
	if len(missing) == 0 {
		return
	}
	if err := h.o.Repair(cctx); err != nil {
		h.failed.Inc()
		h.o.Logger.Error("cannot recreate missing NATS objects; retrying at the next check", "missing", fmt.Sprint(missing), "err", err)
		return
	}
	for _, o := range missing {
		h.recreated.WithLabelValues(o.Kind).Inc()
		h.o.Logger.Warn("recreated missing NATS object with the configured topology", "object", o.String())
	}
	h.look(cctx)
}
