package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged/broker"
)

// DefaultMaxInFlight bounds the records a Writer has published and not yet seen stored.
const DefaultMaxInFlight = 512

// Why a record was not stored: the values of the failures metric's reason label.
const (
	ReasonBacklog  = "backlog"  // MaxInFlight records were waiting for the server already
	ReasonEncode   = "encode"   // the record could not be encoded, or is over the max payload
	ReasonRejected = "rejected" // NATS refused it or nothing took it (the stream is missing)
	ReasonTimeout  = "timeout"  // no answer within the writer's timeout
)

// WriterOptions wire a Writer.
type WriterOptions struct {
	// MaxInFlight bounds the records published and not yet acknowledged; past it a record is
	// dropped and counted, never waited for. 0: DefaultMaxInFlight.
	MaxInFlight int
	// Timeout is how long a record waits for the server's acknowledgement. 0: 10 s.
	Timeout    time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// LogEvery spaces the failure logs: the first failure is logged, then at most one line per
	// interval with the count since. 0: a minute.
	LogEvery time.Duration
}

// Writer appends records to the history stream without waiting for them to be stored: triage
// must never be slowed or failed by its history. What does not get stored is counted and
// logged, rate-limited. It is safe for concurrent use.
type Writer struct {
	js       jetstream.JetStream // its own context: its async publishes have their own bound
	names    broker.Names
	o        WriterOptions
	log      *slog.Logger
	failures *prometheus.CounterVec
	written  *prometheus.CounterVec

	mu         sync.Mutex
	lastLog    time.Time
	suppressed int
}

// NewWriter returns a Writer publishing on nc.
func NewWriter(nc *nats.Conn, n broker.Names, o WriterOptions) (*Writer, error) {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.LogEvery <= 0 {
		o.LogEvery = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(o.Registerer)
	w := &Writer{
		names: n, o: o, log: o.Logger.With("component", "history"),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_history_write_failures_total",
			Help: "History records not stored, by reason: backlog (too many waiting for the server), encode, rejected (e.g. the history stream is missing), timeout. Triage goes on without them.",
		}, []string{"reason"}),
		written: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_history_records_total",
			Help: "History records stored, by kind (alert, opening); a redelivery's repeated records are not counted.",
		}, []string{"kind"}),
	}
	for _, r := range []string{ReasonBacklog, ReasonEncode, ReasonRejected, ReasonTimeout} {
		w.failures.WithLabelValues(r)
	}
	for _, k := range []string{KindAlert, KindOpening} {
		w.written.WithLabelValues(k)
	}
	// The bound is above MaxInFlight, which Write checks first: a race of writers past the check
	// waits at most the stall wait, a millisecond, then fails as backlog.
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(o.MaxInFlight+64),
		jetstream.WithPublishAsyncTimeout(o.Timeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			reason := ReasonRejected
			if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
				reason = ReasonTimeout
			}
			w.fail(reason, err)
		}),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, ack *jetstream.PubAck) {
			if !ack.Duplicate {
				w.written.WithLabelValues(kindOf(m.Subject)).Inc()
			}
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("history writer: %w", err)
	}
	w.js = js
	return w, nil
}

// Write publishes rec under id, the message id JetStream deduplicates by within the stream's
// duplicate window: a redelivered alert written again with the same id is stored once. It never
// blocks on the server.
func (w *Writer) Write(id string, rec *Record) {
	if w.js.PublishAsyncPending() >= w.o.MaxInFlight {
		w.fail(ReasonBacklog, fmt.Errorf("%d records are waiting for the server already", w.o.MaxInFlight))
		return
	}
	data, err := rec.Encode()
	if err != nil {
		w.fail(ReasonEncode, err)
		return
	}
	_, err = w.js.PublishAsync(w.names.HistorySubject(rec.Kind), data, jetstream.WithMsgID(id), jetstream.WithStallWait(time.Millisecond))
	switch {
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		w.fail(ReasonBacklog, err)
	case errors.Is(err, nats.ErrMaxPayload):
		w.fail(ReasonEncode, err)
	case err != nil:
		w.fail(ReasonRejected, err)
	}
}

// Close waits, within ctx, for the records in flight to be acknowledged.
func (w *Writer) Close(ctx context.Context) error {
	select {
	case <-w.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d history records not acknowledged: %w", w.js.PublishAsyncPending(), ctx.Err())
	}
}

// fail counts a record not stored and logs it: the first at once, then one line per LogEvery.
func (w *Writer) fail(reason string, err error) {
	w.failures.WithLabelValues(reason).Inc()
	w.mu.Lock()
	now := time.Now()
	if !w.lastLog.IsZero() && now.Sub(w.lastLog) < w.o.LogEvery {
		w.suppressed++
		w.mu.Unlock()
		return
	}
	n := w.suppressed
	w.lastLog, w.suppressed = now, 0
	w.mu.Unlock()
	w.log.Warn("history record not stored; triage goes on without it", "reason", reason, "err", err, "not_stored_since_last_log", n,
		"stream", w.names.HistoryStream())
}

// kindOf is the kind a history subject names, its last token.
func kindOf(subject string) string {
	for i := len(subject) - 1; i >= 0; i-- {
		if subject[i] == '.' {
			return subject[i+1:]
		}
	}
	return subject
}
