package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
)

// A flush is a timer of an incident that must survive restarts: a coalesced update or a
// flapping summary falling due. It is a message on the alerts stream, handed back with a delay
// until it is due, so any replica can fire it, after a crash too.
const flushSuffix = ".flush"

type flush struct {
	Key string    `json:"key"`
	Due time.Time `json:"due"`
	// Failures counts the times the timer failed once due: its deliveries count its waits until
	// due as well, so they cannot bound its retries.
	Failures int `json:"failures,omitempty"`
}

func (w *Worker) flushMsg(f flush) outMsg {
	data, _ := json.Marshal(f) // cannot fail: a string, a time and a number
	id := fmt.Sprintf("flush:%s:%d", f.Key, f.Due.UnixNano())
	if f.Failures > 0 {
		id += fmt.Sprintf(":retry-%d", f.Failures)
	}
	return outMsg{Subject: w.o.Names.TimerSubject(), MsgID: id, Data: data, Report: -1}
}

// timerWorkers handle the timers that fall due: a timer not due is handed back at once, so a
// few suffice.
const timerWorkers = 2

// runTimers consumes the incident timers until ctx is done. They have a consumer of their own
// because each waits unacknowledged until due: on the alerts' consumer they would fill its
// MaxAckPending and hold the alerts back.
func (w *Worker) runTimers(ctx context.Context, ackWait time.Duration) {
	if w.o.Timers == nil {
		return
	}
	err := broker.Run(ctx, w.o.Timers, broker.RunOptions{
		Workers:         timerWorkers,
		InProgressEvery: ackWait / 3,
		Logger:          w.log,
		OnPanic:         func(jetstream.Msg, any) { w.metrics.terminated.WithLabelValues("panic").Inc() },
		DeadLetters:     w.o.DeadLetters,
		Unbounded:       true, // handed back until due
	}, w.Handle)
	if err != nil {
		w.log.Error("incident timers not consumed: coalesced updates and flapping summaries will not fall due", "err", err)
	}
}

// scheduleFlush puts a flush message due then in next's outbox, unless prev's change already put
// one for that time: it fires for every change coalesced until then, so the joins of a storm
// publish it, and store the record to clear it from the outbox, once rather than once each.
func (w *Worker) scheduleFlush(prev, next *record, key string, due time.Time) {
	if prev != nil && prev.FlushDue != nil && prev.FlushDue.Equal(due) {
		next.FlushDue = prev.FlushDue
		return
	}
	next.Outbox = append(next.Outbox, w.flushMsg(flush{Key: key, Due: due}))
	next.FlushDue = &due
}

func (w *Worker) handleFlush(ctx context.Context, m jetstream.Msg) {
	var f flush
	if err := json.Unmarshal(m.Data(), &f); err != nil || f.Key == "" {
		if err == nil {
			err = errors.New("no incident key")
		}
		w.log.Error("flush message undecodable; dead-lettered", "err", err)
		w.metrics.terminated.WithLabelValues("undecodable").Inc()
		w.o.DeadLetters.Send(ctx, m, broker.ReasonUndecodable, fmt.Errorf("undecodable flush: %w", err), w.firstDelay())
		return
	}
	if wait := f.Due.Sub(w.o.Now()); wait > 0 {
		_ = m.NakWithDelay(wait) // not due yet: not a failure, so not counted as a retry
		return
	}
	var later *time.Time
	err := w.change(ctx, f.Key, time.Time{}, func(prev *triaged.Incident) (*triaged.Incident, step) {
		if prev == nil {
			return nil, step{skip: skipUnchanged}
		}
		inc, st := w.o.Policy.flush(prev, w.o.Now())
		if st.event == "" && st.flushAt != nil {
			later, st.skip = st.flushAt, skipWaiting // nothing to store; this message waits on
		}
		return inc, st
	})
	switch {
	case err != nil:
		w.retryFlush(ctx, m, f, err)
	case later != nil:
		_ = m.NakWithDelay(max(later.Sub(w.o.Now()), 0))
	default:
		_ = m.Ack()
	}
}

// retryFlush hands back a due timer that failed. Its deliveries count its waits until due, so
// its failures are counted in the timer itself: it is published again, due after the backoff with
// one failure more, and then acknowledged. After as many failures as an alert message may have
// deliveries (triage.max_deliveries), or at once for a failure no retry can mend, it is
// dead-lettered, as alert messages are.
func (w *Worker) retryFlush(ctx context.Context, m jetstream.Msg, f flush, err error) {
	n := f.Failures + 1
	delay := w.firstDelay()
	if len(w.o.RetryBackoff) > 0 {
		delay = w.o.RetryBackoff[min(n, len(w.o.RetryBackoff))-1]
	}
	switch {
	case errors.Is(err, errConflict):
		_ = m.NakWithDelay(0) // the other writer has finished: no failure of this timer
		return
	case errors.Is(err, broker.ErrPermanent) && w.o.DeadLetters != nil:
		w.o.DeadLetters.Send(ctx, m, broker.ReasonPermanent, err, delay)
		return
	case w.o.DeadLetters != nil && n >= w.o.DeadLetters.MaxDeliveries():
		w.o.DeadLetters.Send(ctx, m, broker.ReasonExhausted, fmt.Errorf("failed %d times once due: %w", n, err), delay)
		return
	}
	w.log.Warn("incident timer failed; will retry", "incident_key", f.Key, "attempt", n, "retry_in", delay, "err", err)
	w.metrics.retried.Inc()
	// The handler's own deadline may be what failed it: the new timer has a bound of its own.
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	next := w.flushMsg(flush{Key: f.Key, Due: w.o.Now().Add(delay), Failures: n})
	if _, perr := w.o.JetStream.Publish(pubCtx, next.Subject, next.Data, jetstream.WithMsgID(next.MsgID)); perr != nil {
		// NATS itself is failing: the timer is handed back as it is, and tried again.
		_ = m.NakWithDelay(delay)
		return
	}
	_ = m.Ack()
}
