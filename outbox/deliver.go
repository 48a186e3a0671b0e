package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/notify"
)

// outcome is what became of a lane's first report.
type outcome struct {
	decided bool      // it got its ack decision and leaves the lane
	wait    time.Time // the lane waits until then, or until a report arrives in it
}

var (
	handled   = outcome{decided: true}
	errKnown  = errors.New("delivered already")
	kvTimeout = 10 * time.Second
	// recordFor bounds how long the outcome of a delivered report is retried: longer than a
	// JetStream leader election, shorter than holding the incident's lane for good.
	recordFor = 30 * time.Second
)

// step delivers the first report of lane l, or says how long the lane must wait for an earlier
// report of its incident. Every path ends in one ack decision or in waiting:
//
//	read record ─► delivered already? ack ─► earlier report pending? wait
//	─► not routed here? record, ack ─► record intent ─► Deliver ─► record outcome ─► ack
//	                                                            └► failed: nak with backoff,
//	                                                               or dead letter (recorded)
func (d *Deliverer) step(e *engine, l *lane, it *item) outcome {
	ctx := e.ctx
	rep := it.rep
	kctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	rec, rev, err := d.records.get(kctx, l.key)
	if err != nil {
		return d.retry(ctx, it, err)
	}
	now := time.Now()
	switch rec.gate(rep.ID, it.n, now, e.grace) {
	case duplicate:
		return d.skipDuplicate(it)
	case waitTurn:
		l.gapSince = time.Time{}
		// The earlier report comes back when its retry is due, here or elsewhere: look again
		// then, and meanwhile now and then in case another replica delivered it.
		// Once it is due, look every second (its process may be gone: the grace bounds that).
		if rec.Intent.Due.Before(now.Add(250 * time.Millisecond)) {
			return outcome{wait: now.Add(time.Second)}
		}
		return outcome{wait: clamp(rec.Intent.Due, now, now.Add(5*time.Second))}
	case waitAttempt:
		// Delivered now, a report the other attempt posted would show twice on a sink that
		// cannot look up what it posted; once that attempt is overdue it is taken to have died.
		return outcome{wait: clamp(rec.Intent.Due.Add(e.grace), now, now.Add(time.Second))}
	case waitGap:
		var in string
		if rec.Intent != nil {
			in = rec.Intent.ID
		}
		if l.gapSince.IsZero() || l.gapLast != rec.Last || l.gapIntent != in {
			l.gapSince, l.gapLast, l.gapIntent = now, rec.Last, in
		}
		if until := l.gapSince.Add(e.grace); now.Before(until) {
			return outcome{wait: clamp(until, now, now.Add(time.Second))}
		}
		d.log.Warn("earlier report of the incident never came; delivering this one without it", "incident", rep.IncidentID, "report", rep.ID, "last_delivered", rec.Last, "waited", now.Sub(l.gapSince).Round(time.Second))
	}
	l.gapSince = time.Time{}

	channel, routed := "", true
	if d.o.Route != nil {
		channel, routed = d.o.Route(rep)
	}
	if !routed {
		if _, _, err := d.records.update(kctx, l.key, rec, rev, func(r *record) error { r.account(rep.ID, it.n, true); return nil }); err != nil {
			return d.retry(ctx, it, err)
		}
		d.metrics.deliveries.WithLabelValues(d.sink.Name(), resultUnrouted).Inc()
		_ = it.m.Ack()
		return handled
	}
	if meta, err := it.m.Metadata(); err == nil && d.o.DeadLetters != nil && meta.NumDelivered > uint64(d.o.DeadLetters.MaxDeliveries()) {
		// Every delivery before ended without an outcome (the process died during each).
		return d.deadLetter(ctx, l.key, rec, rev, it, nil, broker.ReasonNoOutcome, resultExhausted,
			fmt.Errorf("delivered more than %d times without an outcome", d.o.DeadLetters.MaxDeliveries()))
	}

	// The intent, before the sink is called: should this process stop before the outcome is
	// recorded, the next attempt knows this one may have reached the service.
	maybe := false
	rec, rev, err = d.records.update(kctx, l.key, rec, rev, func(r *record) error {
		if dn, ok := r.find(rep.ID); ok && !dn.Skipped {
			return errKnown
		}
		maybe = r.Intent != nil && r.Intent.ID == rep.ID && r.Intent.Unsure
		r.Intent = &intent{ID: rep.ID, N: it.n, Unsure: true, Due: time.Now().Add(d.o.Timeout)}
		return nil
	})
	if errors.Is(err, errKnown) {
		return d.skipDuplicate(it)
	}
	if err != nil {
		return d.retry(ctx, it, err)
	}

	// A sink saves what it must never create twice (an incident channel) before announcing it.
	save := func(sctx context.Context, th *notify.Thread) error {
		nrec, nrev, err := d.records.update(sctx, l.key, rec, rev, func(r *record) error { r.Thread = th; return nil })
		if err != nil {
			return err
		}
		rec, rev = nrec, nrev
		return nil
	}
	dctx, dcancel := context.WithTimeout(ctx, d.o.Timeout)
	start := time.Now()
	th, err := d.sink.Deliver(dctx, notify.Delivery{Report: rep, Channel: channel, Thread: rec.Thread, MaybePosted: maybe, Save: save})
	dcancel()
	d.metrics.duration.WithLabelValues(d.sink.Name()).Observe(time.Since(start).Seconds())
	if err != nil {
		return d.failed(ctx, l.key, rec, rev, it, th, maybe, err)
	}
	return d.delivered(ctx, l.key, rec, rev, it, th)
}

// delivered records the outcome, then acknowledges: a report acknowledged before its outcome is
// recorded could be posted again by nobody, but its thread would be lost to the next report.
func (d *Deliverer) delivered(ctx context.Context, key string, rec *record, rev uint64, it *item, th *notify.Thread) outcome {
	rep := it.rep
	var err error
	// A NATS node lost takes the bucket's leader with it for seconds; giving up sooner would
	// deliver the report again, which a sink that cannot find what it posted shows twice. The
	// lane keeps the message in progress meanwhile (heartbeat), so no other replica takes it.
	deadline := time.Now().Add(recordFor)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			select {
			case <-time.After(min(time.Duration(attempt)*200*time.Millisecond, 2*time.Second)):
			case <-ctx.Done():
			}
		}
		kctx, cancel := context.WithTimeout(ctx, kvTimeout)
		_, _, err = d.records.update(kctx, key, rec, rev, func(r *record) error {
			if th != nil {
				r.Thread = keepArchived(r, rec, th)
			}
			r.account(rep.ID, it.n, false)
			return nil
		})
		cancel()
		if err == nil || errors.Is(err, nats.ErrConnectionClosed) {
			break // a closed connection never records it: the next process is told maybe-posted
		}
	}
	if err != nil {
		// Delivered but not recorded: the report comes again, its intent still unsure, and the
		// sink is told it may have been posted.
		d.log.Error("report delivered but its outcome not recorded; it will be delivered again, marked maybe-posted", "incident", rep.IncidentID, "report", rep.ID, "err", err)
		delay, _ := broker.RetryDelay(it.m, d.o.RetryBackoff)
		_ = it.m.NakWithDelay(delay)
		return handled
	}
	d.scheduleArchive(ctx, rep.IncidentID, th)
	_ = it.m.Ack()
	now := time.Now()
	sev := rep.Severity.String()
	d.metrics.deliveries.WithLabelValues(d.sink.Name(), resultSuccess).Inc()
	if !rep.TriagedAt.IsZero() {
		d.metrics.latency.WithLabelValues(d.sink.Name(), sev).Observe(now.Sub(rep.TriagedAt).Seconds())
	}
	if !rep.StartedAt.IsZero() {
		d.metrics.age.WithLabelValues(d.sink.Name(), sev).Observe(now.Sub(rep.StartedAt).Seconds())
	}
	d.log.Debug("report delivered", "incident", rep.IncidentID, "report", rep.ID)
	return handled
}

// failed decides what a failed delivery becomes: a dead letter at once (permanent), after the
// last allowed delivery (exhausted), or a retry after the backoff or the service's Retry-After.
func (d *Deliverer) failed(ctx context.Context, key string, rec *record, rev uint64, it *item, th *notify.Thread, maybe bool, err error) outcome {
	rep := it.rep
	cause := fmt.Errorf("delivery to sink %s: %w", d.sink.Name(), err)
	if notify.IsPermanent(err) {
		return d.deadLetter(ctx, key, rec, rev, it, th, broker.ReasonPermanent, resultPermanent, cause)
	}
	if d.o.DeadLetters.Exhausted(it.m) {
		return d.deadLetter(ctx, key, rec, rev, it, th, broker.ReasonExhausted, resultExhausted, cause)
	}
	delay, n := broker.RetryDelay(it.m, d.o.RetryBackoff)
	after, limited := notify.RetryAfter(err)
	delay = max(delay, after)
	kctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	// The thread a sink returns with its error (the root was posted, the reply failed) is kept
	// for the retry; the intent says when the retry is due, so later reports wait that long.
	_, _, kerr := d.records.update(kctx, key, rec, rev, func(r *record) error {
		if th != nil {
			r.Thread = keepArchived(r, rec, th)
		}
		if r.Intent != nil && r.Intent.ID == rep.ID {
			r.Intent.Due = time.Now().Add(delay)
			r.Intent.Retry = true
			r.Intent.Unsure = maybe || !limited // a refusal says nothing of an earlier attempt
		}
		return nil
	})
	if kerr != nil {
		d.log.Warn("failed delivery not recorded", "incident", rep.IncidentID, "report", rep.ID, "err", kerr)
	}
	result := resultFailure
	if limited {
		result = resultRateLimited
	}
	d.metrics.deliveries.WithLabelValues(d.sink.Name(), result).Inc()
	d.log.Warn("delivery failed; will retry", "incident", rep.IncidentID, "report", rep.ID, "attempt", n, "retry_in", delay, "err", err)
	_ = it.m.NakWithDelay(delay)
	return handled
}

// deadLetter sets a report aside for good, recording it as dealt with first, so the incident's
// later reports go on without it.
func (d *Deliverer) deadLetter(ctx context.Context, key string, rec *record, rev uint64, it *item, th *notify.Thread, reason, result string, cause error) outcome {
	kctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	_, _, err := d.records.update(kctx, key, rec, rev, func(r *record) error {
		if th != nil {
			r.Thread = keepArchived(r, rec, th)
		}
		r.account(it.rep.ID, it.n, true)
		return nil
	})
	if err != nil {
		d.log.Warn("dead-lettered report not recorded; the incident's later reports wait for it a while", "incident", it.rep.IncidentID, "report", it.rep.ID, "err", err)
	}
	d.metrics.deliveries.WithLabelValues(d.sink.Name(), result).Inc()
	d.o.DeadLetters.Send(ctx, it.m, reason, cause, d.o.RetryBackoff[0])
	return handled
}

// retry hands a report back after a failure of our own (the record could not be read or
// written), with the same backoff and bound as a failed delivery.
func (d *Deliverer) retry(ctx context.Context, it *item, err error) outcome {
	if d.o.DeadLetters.Exhausted(it.m) {
		d.metrics.deliveries.WithLabelValues(d.sink.Name(), resultExhausted).Inc()
		d.o.DeadLetters.Send(ctx, it.m, broker.ReasonExhausted, err, d.o.RetryBackoff[0])
		return handled
	}
	delay, n := broker.RetryDelay(it.m, d.o.RetryBackoff)
	d.metrics.deliveries.WithLabelValues(d.sink.Name(), resultFailure).Inc()
	d.log.Warn("delivery record unavailable; will retry", "incident", it.rep.IncidentID, "report", it.rep.ID, "attempt", n, "retry_in", delay, "err", err)
	_ = it.m.NakWithDelay(delay)
	return handled
}

func (d *Deliverer) skipDuplicate(it *item) outcome {
	d.metrics.deliveries.WithLabelValues(d.sink.Name(), resultDuplicate).Inc()
	d.log.Debug("report delivered already; acknowledged", "incident", it.rep.IncidentID, "report", it.rep.ID)
	_ = it.m.Ack()
	return handled
}

// keepArchived is th, the thread a sink returned, except that a channel the archiver archived
// while the sink worked from the record from, where it was not archived, stays archived in the
// record (the sink cannot have unarchived what it did not know archived): the incident's next
// report then finds it archived and unarchives it where the service allows.
func keepArchived(r, from *record, th *notify.Thread) *notify.Thread {
	if th == nil || th.Incident == nil || th.Incident.Archived || r.Thread == nil || r.Thread.Incident == nil ||
		!r.Thread.Incident.Archived || r.Thread.Incident.ID != th.Incident.ID {
		return th
	}
	if from != nil && from.Thread != nil && from.Thread.Incident != nil && from.Thread.Incident.Archived {
		return th // the sink saw it archived: its answer (unarchived) stands
	}
	cp := *th
	ic := *th.Incident
	ic.Archived, ic.ArchiveAt = true, nil
	cp.Incident = &ic
	return &cp
}

// clamp is t within [lo, hi].
func clamp(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}
