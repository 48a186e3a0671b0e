package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Headers of a dead letter, naming where its payload came from and why it was set aside.
const (
	HeaderOriginStream   = "Triaged-Origin-Stream"
	HeaderOriginSubject  = "Triaged-Origin-Subject"
	HeaderOriginConsumer = "Triaged-Origin-Consumer"
	HeaderOriginSequence = "Triaged-Origin-Sequence"
	HeaderDeliveries     = "Triaged-Deliveries"
	HeaderReason         = "Triaged-Reason"
	HeaderError          = "Triaged-Error"
)

// Reasons a message is dead-lettered: the metric's reason label and the Triaged-Reason header.
const (
	ReasonUndecodable = "undecodable"       // the payload is not what the consumer reads
	ReasonPermanent   = "permanent"         // a failure no retry can mend (see Permanent)
	ReasonExhausted   = "retries_exhausted" // a transient failure on every allowed delivery
	ReasonPanic       = "panic"             // the handler panicked
	ReasonNoOutcome   = "no_outcome"        // delivered again and again, never acked nor nak'ed
)

// ErrPermanent marks a failure that cannot succeed on retry, such as a report that cannot be
// encoded: its message is dead-lettered at once instead of retried.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err as a failure no retry can mend.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// DeadLetters sets aside the messages that cannot succeed on retry, so that none of them holds
// a consumer's MaxAckPending slot, or its whole attention, forever. One is shared by every
// consumer of a process; a nil *DeadLetters terminates such messages instead, as before.
type DeadLetters struct {
	js    jetstream.JetStream
	names Names
	// maxDeliveries bounds the deliveries of a message that fails transiently.
	maxDeliveries uint64
	total         *prometheus.CounterVec
	log           *slog.Logger
}

// NewDeadLetters returns the dead letters of names' deployment. A message is delivered at most
// maxDeliveries times before it is dead-lettered; reg may be nil.
func NewDeadLetters(js jetstream.JetStream, names Names, maxDeliveries int, reg prometheus.Registerer, log *slog.Logger) *DeadLetters {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "triaged_dead_letters_total",
		Help: "Messages set aside on the dead-letters stream, by the consumer that gave up on them and why.",
	}, []string{"consumer", "reason"})
	if reg != nil {
		reg.MustRegister(total)
	}
	return &DeadLetters{js: js, names: names, maxDeliveries: uint64(max(maxDeliveries, 1)), total: total, log: log.With("component", "dead-letters")}
}

// WithBound is d with another bound on deliveries, for consumers that must outlast longer
// outages (the sinks); the metric and the stream are shared.
func (d *DeadLetters) WithBound(maxDeliveries int) *DeadLetters {
	if d == nil {
		return nil
	}
	c := *d
	c.maxDeliveries = uint64(max(maxDeliveries, 1))
	return &c
}

// MaxDeliveries is the bound on a message's deliveries; the consumers' MaxDeliver is one more,
// as a backstop should a process die between the last delivery and its dead-lettering.
func (d *DeadLetters) MaxDeliveries() int {
	if d == nil {
		return 0
	}
	return int(d.maxDeliveries)
}

// Exhausted says whether m was delivered as often as allowed: a transient failure now is its
// last.
func (d *DeadLetters) Exhausted(m jetstream.Msg) bool {
	if d == nil {
		return false
	}
	meta, err := m.Metadata()
	return err == nil && meta.NumDelivered >= d.maxDeliveries
}

// overdue says whether m arrives after more deliveries than allowed: each before ended without
// an ack decision, the handler crashing the process or outlasting AckWait.
func (d *DeadLetters) overdue(m jetstream.Msg) bool {
	if d == nil {
		return false
	}
	meta, err := m.Metadata()
	return err == nil && meta.NumDelivered > d.maxDeliveries
}

// Send copies m to the dead-letters stream with headers naming its origin and reason, then
// terminates it. Should the copy fail, m is handed back after delay to be tried again: a dead
// letter is never lost for want of its copy.
func (d *DeadLetters) Send(ctx context.Context, m jetstream.Msg, reason string, cause error, delay time.Duration) {
	detail := reason
	if cause != nil {
		detail = cause.Error()
	}
	if d == nil {
		_ = m.TermWithReason(reason + ": " + detail)
		return
	}
	meta, err := m.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to redeliver, nothing to set aside.
		d.log.Error("dead letter without JetStream metadata", "subject", m.Subject(), "reason", reason, "err", err)
		_ = m.TermWithReason(reason + ": " + detail)
		return
	}
	h := nats.Header{}
	h.Set(HeaderOriginStream, meta.Stream)
	h.Set(HeaderOriginSubject, m.Subject())
	h.Set(HeaderOriginConsumer, meta.Consumer)
	h.Set(HeaderOriginSequence, strconv.FormatUint(meta.Sequence.Stream, 10))
	h.Set(HeaderDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	h.Set(HeaderReason, reason)
	h.Set(HeaderError, truncate(detail, 1024))
	// One dead letter per origin message, should the termination below be lost and it come again.
	h.Set(nats.MsgIdHdr, fmt.Sprintf("dead:%s:%s:%d", meta.Stream, meta.Consumer, meta.Sequence.Stream))
	// The handler's own deadline may be what failed it: the copy has a bound of its own.
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err = d.js.PublishMsg(pubCtx, &nats.Msg{Subject: d.names.DeadLetterSubject(meta.Consumer), Header: h, Data: m.Data()})
	if err != nil {
		d.log.Error("dead letter not stored; will try again", "subject", m.Subject(), "consumer", meta.Consumer, "reason", reason, "err", err)
		_ = m.NakWithDelay(delay)
		return
	}
	d.log.Error("message dead-lettered", "subject", m.Subject(), "consumer", meta.Consumer, "sequence", meta.Sequence.Stream, "deliveries", meta.NumDelivered, "reason", reason, "err", detail)
	d.total.WithLabelValues(meta.Consumer, reason).Inc()
	_ = m.TermWithReason(reason + ": " + detail)
}

// truncate makes s a header value: one line, at most n bytes.
func truncate(s string, n int) string {
	s = strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", " ").Replace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
