package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
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
		Subject: w.o.Names.AlertSubject("flush"),
		MsgID:   fmt.Sprintf("flush:%s:%d", key, due.UnixNano()),
		Data:    data,
		Report:  -1,
	}
}

func (w *Worker) handleFlush(ctx context.Context, m jetstream.Msg) {
	var f flush
	if err := json.Unmarshal(m.Data(), &f); err != nil || f.Key == "" {
		w.log.Error("flush message undecodable; terminated", "err", err)
		w.metrics.terminated.WithLabelValues("undecodable").Inc()
		_ = m.TermWithReason(fmt.Sprintf("undecodable flush: %v", err))
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
		w.retry(m, f.Key, err)
	case later != nil:
		_ = m.NakWithDelay(max(later.Sub(w.o.Now()), 0))
	default:
		_ = m.Ack()
	}
}
