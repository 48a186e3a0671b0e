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
}

func (w *Worker) flushMsg(key string, due time.Time) outMsg {
	data, _ := json.Marshal(flush{Key: key, Due: due}) // cannot fail: a string and a time
	return outMsg{
		Subject: w.o.Names.TimerSubject(),
		MsgID:   fmt.Sprintf("flush:%s:%d", key, due.UnixNano()),
		Data:    data,
		Report:  -1,
	}
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
	next.Outbox = append(next.Outbox, w.flushMsg(key, due))
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
		// Not bounded: a timer's deliveries count its waits until due as well as its failures.
		w.retry(ctx, m, f.Key, err, false)
	case later != nil:
		_ = m.NakWithDelay(max(later.Sub(w.o.Now()), 0))
	default:
		_ = m.Ack()
	}
}
