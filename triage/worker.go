package triage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
)

// Resolver decides which service an alert is about: the service catalog, or the alert's labels.
type Resolver interface {
	Resolve(a *triaged.Alert) triaged.Service
}

// Classifier decides an alert's severity. The rules engine is one; tests pass their own.
type Classifier interface {
	Classify(a *triaged.Alert, svc triaged.Service, now time.Time) triaged.Classification
}

// Escalator may raise a classification once enrichment has found deploys, probe results and
// log lines: the rules engine's second stage.
type Escalator interface {
	Escalate(c triaged.Classification, a *triaged.Alert, svc triaged.Service, enr triaged.Enrichment, now time.Time) triaged.Classification
}

// Enricher gathers what the report needs beyond the alert, under the deadline in ctx. It never
// fails: what it could not collect is recorded in the Enrichment. When enrichers were still
// running at the deadline, late (not nil) waits out their grace and returns the enrichment with
// what they found since, ok when they found anything; not calling it is harmless, since the
// enrichers end with ctx.
type Enricher interface {
	Enrich(ctx context.Context, a *triaged.Alert, svc triaged.Service, cls triaged.Classification) (enr triaged.Enrichment, late func() (triaged.Enrichment, bool))
}

// labelsOnly resolves services without a catalog.
type labelsOnly struct{}

func (labelsOnly) Resolve(a *triaged.Alert) triaged.Service { return triaged.LabelledService(a) }

// notCollected is the enrichment when no enricher is configured.
type notCollected struct{}

func (notCollected) Enrich(context.Context, *triaged.Alert, triaged.Service, triaged.Classification) (triaged.Enrichment, func() (triaged.Enrichment, bool)) {
	return triaged.Enrichment{Pending: []string{triaged.SectionRecentChanges, triaged.SectionProbes, triaged.SectionLogs}}, nil
}

// Options wires a Worker.
type Options struct {
	JetStream  jetstream.JetStream
	Names      broker.Names
	Incidents  jetstream.KeyValue
	Timers     jetstream.Consumer // the incident timers' consumer (broker's Topology.Timers); nil: none
	Resolver   Resolver           // optional: without it the service comes from the alert's labels
	Classifier Classifier
	Escalator  Escalator  // optional
	Enricher   Enricher   // optional: without it the enrichment sections are reported as not collected
	Graphs     GraphStore // optional: keeps the enrichment's graphs (see storeGraphs); nil: none is linked
	// HandleTimeout bounds the whole handling of one message, enrichment and every JetStream
	// round trip included (the config's triage.timeout). Required.
	HandleTimeout time.Duration
	// RetryBackoff is the delay before the n-th redelivery after a transient failure; the last
	// value repeats.
	RetryBackoff []time.Duration
	// Policy shapes incidents (the config's incidents section); the zero value is DefaultPolicy.
	Policy Policy
	// DeadLetters takes the messages that cannot succeed on retry, and those that failed on every
	// delivery it allows. Nil: they are terminated, or retried forever.
	DeadLetters *broker.DeadLetters
	// Escalation is who is escalated to at each severity, shown in the reports.
	Escalation map[triaged.Severity][]string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time

	// ReportMaxBytes is the budget of one encoded report (report.max_bytes); a larger report is
	// trimmed to fit. 0: triaged.DefaultReportMaxBytes.
	ReportMaxBytes int
	// RecordMaxBytes bounds an incident's record in the incidents bucket, which must fit one NATS
	// message. 0: the connected server's max payload less room for headers, or
	// DefaultRecordMaxBytes without a connection. The members get what it leaves beside a report
	// and its evidence (Policy.MembersMaxBytes), unless the policy sets their budget.
	RecordMaxBytes int
	// Heartbeat is the dead man's switch; its zero value tracks none.
	Heartbeat Heartbeat
	// History keeps every alert classified and every (re)opening for backtests (history.go);
	// nil keeps none.
	History HistoryWriter
}

// Worker handles alert messages. It is safe for concurrent use by a pool.
type Worker struct {
	o         Options
	log       *slog.Logger
	metrics   *metrics
	keys      keyLocks
	drops     *broker.DropWatch // what the alerts stream discarded untriaged, when full
	heartbeat *heartbeatMetrics
	dropped   *prometheus.CounterVec // alerts dropped by a rule, by rule
}

// New returns a Worker.
func New(o Options) (*Worker, error) {
	if o.HandleTimeout <= 0 {
		return nil, fmt.Errorf("triage: the handling timeout must be positive, not %v", o.HandleTimeout)
	}
	if o.Classifier == nil {
		return nil, errors.New("triage: a classifier is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Policy.FlapThreshold == 0 && o.Policy.ReopenWindow == 0 {
		groupBy := o.Policy.GroupBy
		o.Policy = DefaultPolicy()
		o.Policy.GroupBy = groupBy
	}
	if o.RecordMaxBytes <= 0 {
		o.RecordMaxBytes = DefaultRecordMaxBytes
		if o.JetStream != nil && o.JetStream.Conn() != nil && o.JetStream.Conn().MaxPayload() > recordHeadroom {
			o.RecordMaxBytes = int(o.JetStream.Conn().MaxPayload()) - recordHeadroom
		}
	}
	if o.Policy.MembersMaxBytes <= 0 {
		o.Policy.MembersMaxBytes = membersBudget(o.RecordMaxBytes, cmp.Or(o.ReportMaxBytes, triaged.DefaultReportMaxBytes))
	}
	if o.Resolver == nil {
		o.Resolver = labelsOnly{}
	}
	if o.Enricher == nil {
		o.Enricher = notCollected{}
	}
	if len(o.Heartbeat.Matchers) > 0 {
		o.Classifier = heartbeatClassifier{o.Classifier}
	}
	log := o.Logger.With("component", "triage")
	return &Worker{o: o, log: log, metrics: newMetrics(o.Registerer), drops: broker.NewDropWatch(o.Registerer, log),
		heartbeat: newHeartbeatMetrics(o.Registerer), dropped: newDroppedCounter(o.Registerer)}, nil
}

// Run consumes the shared triage consumer with at most workers concurrent handlers until ctx
// is done, then finishes the work in hand.
func (w *Worker) Run(ctx context.Context, c jetstream.Consumer, workers int, ackWait time.Duration) error {
	w.metrics.workers.Set(float64(workers))
	var wg sync.WaitGroup
	defer wg.Wait()
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	wg.Go(func() { w.pollPending(pollCtx, c) })
	wg.Go(func() { w.runTimers(ctx, ackWait) })
	wg.Go(func() { w.runHeartbeats(ctx) })
	return broker.Run(ctx, c, broker.RunOptions{
		Workers:         workers,
		InProgressEvery: ackWait / 3,
		Logger:          w.log,
		Busy:            func(d int) { w.metrics.busy.Add(float64(d)) },
		OnPanic:         func(jetstream.Msg, any) { w.metrics.terminated.WithLabelValues("panic").Inc() },
		DeadLetters:     w.o.DeadLetters,
	}, w.Handle)
}

// pollPending keeps the pending-messages gauge current without a NATS round trip per scrape,
// counts what the alerts stream discarded untriaged, and the incident gauges every sixth time. A failed read leaves the gauges as they were and
// their timestamp behind, which says they are stale.
func (w *Worker) pollPending(ctx context.Context, c jetstream.Consumer) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for n := 0; ; n++ {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if info, err := w.drops.Check(ictx, w.o.JetStream, w.o.Names.AlertsStream(), c); err == nil {
			w.metrics.pending.Set(float64(info.NumPending))
			w.metrics.ackPending.Set(float64(info.NumAckPending))
			w.metrics.pendingAt.SetToCurrentTime()
		}
		cancel()
		if n%6 == 0 {
			w.countIncidents(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maxCounted bounds the incidents the gauges read per count, so a full bucket cannot make the
// count a load of its own.
const maxCounted = 10000

// countIncidents sets the open and flapping incident gauges from the incidents bucket.
func (w *Worker) countIncidents(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	keys, err := w.o.Incidents.ListKeysFiltered(ctx, "g.>")
	if err != nil {
		return
	}
	defer keys.Stop()
	open := map[triaged.Severity]int{}
	flapping, n := 0, 0
	for k := range keys.Keys() {
		if n++; n > maxCounted {
			break
		}
		e, err := w.o.Incidents.Get(ctx, k)
		if err != nil {
			continue
		}
		var inc struct {
			State    string           `json:"state"`
			Severity triaged.Severity `json:"severity"`
			Flapping bool             `json:"flapping"`
		}
		if json.Unmarshal(e.Value(), &inc) != nil {
			continue
		}
		if inc.State == triaged.IncidentOpen {
			open[inc.Severity]++
		}
		if inc.Flapping {
			flapping++
		}
	}
	for _, s := range triaged.Severities {
		w.metrics.open.WithLabelValues(s.String()).Set(float64(open[s]))
	}
	w.metrics.flapping.Set(float64(flapping))
}

// Handle triages one message of the alerts stream, an Alertmanager notification or a due
// flush of an incident, and makes its single ack decision.
func (w *Worker) Handle(ctx context.Context, m jetstream.Msg) {
	ctx, cancel := context.WithTimeout(ctx, w.o.HandleTimeout)
	defer cancel()
	if strings.HasSuffix(m.Subject(), flushSuffix) {
		w.handleFlush(ctx, m) // handed back until due: its deliveries are no redeliveries
		return
	}
	if meta, err := m.Metadata(); err == nil && meta.NumDelivered > 1 {
		w.metrics.redelivered.Inc()
	}
	done := w.stage("decode")
	b, err := triaged.DecodeBatch(m.Data())
	done()
	if err != nil {
		w.log.Error("alert message undecodable; dead-lettered", "subject", m.Subject(), "err", err)
		w.metrics.terminated.WithLabelValues("undecodable").Inc()
		w.o.DeadLetters.Send(ctx, m, broker.ReasonUndecodable, err, w.firstDelay())
		return
	}
	if err := w.triage(ctx, b); err != nil {
		w.retry(ctx, m, b.Group.Key, err, true)
		return
	}
	_ = m.Ack()
}

// retry hands m back after a failure, with backoff, unless no retry can mend it or, when bounded,
// it was delivered as often as the dead letters allow: then it is dead-lettered.
func (w *Worker) retry(ctx context.Context, m jetstream.Msg, what string, err error, bounded bool) {
	delay, n := broker.RetryDelay(m, w.o.RetryBackoff)
	switch {
	case errors.Is(err, broker.ErrPermanent) && w.o.DeadLetters != nil:
		w.o.DeadLetters.Send(ctx, m, broker.ReasonPermanent, err, delay)
		return
	case bounded && w.o.DeadLetters.Exhausted(m):
		w.o.DeadLetters.Send(ctx, m, broker.ReasonExhausted, err, delay)
		return
	}
	if errors.Is(err, errConflict) {
		delay = 0 // the other writer has finished: re-read and decide again at once
	}
	w.log.Warn("triage failed; will retry", "group", what, "attempt", n, "retry_in", delay, "err", err)
	w.metrics.retried.Inc()
	_ = m.NakWithDelay(delay)
}

func (w *Worker) firstDelay() time.Duration {
	if len(w.o.RetryBackoff) == 0 {
		return time.Second
	}
	return w.o.RetryBackoff[0]
}

// stage starts timing one step of a message's handling; calling the result records it.
func (w *Worker) stage(name string) (done func()) {
	start := w.o.Now()
	return func() { w.metrics.stage.WithLabelValues(name).Observe(w.o.Now().Sub(start).Seconds()) }
}

// triage applies a notification to the incidents of its group (one, unless incidents are
// grouped by labels) and reports what it changed. Each incident's change is stored with
// compare-and-set before its reports are published, so a race or a crash at any point leads,
// on redelivery, to the same reports, once.
func (w *Worker) triage(ctx context.Context, b *triaged.Batch) error {
	done := w.stage("classify")
	byKey := map[string][]arrival{}
	var keys []string
	for _, a := range b.Split() {
		if w.isHeartbeat(&a) {
			continue // taken out at the door (TakeHeartbeats) and recorded; never reported
		}
		svc := w.o.Resolver.Resolve(&a)
		cls := w.classify(b, &a, svc) // and its history record
		if cls.Dropped {
			w.dropped.WithLabelValues(cls.Rule).Inc()
			continue
		}
		k := w.o.Policy.key(b.Group, &a)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], arrival{alert: &a, cls: cls})
	}
	done()
	var errs []error
	for _, k := range keys {
		in := byKey[k]
		err := w.change(ctx, bucketKey(k), b.ReceivedAt, func(prev *triaged.Incident) (*triaged.Incident, step) {
			return w.o.Policy.apply(prev, b.Group, in, w.o.Now())
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// change runs one change of the incident stored under key: it finishes what a previous change
// left to publish, decides, investigates a (re)opening, stores the result with its reports and
// timers, and publishes them.
func (w *Worker) change(ctx context.Context, key string, received time.Time, decide func(*triaged.Incident) (*triaged.Incident, step)) error {
	id, late, err := w.changeLocked(ctx, key, received, decide)
	if err != nil || late == nil {
		return err
	}
	// The opening is out; what enrichment finds in its grace comes as an update. The wait is
	// outside the incident's lock, so the group's other changes go on meanwhile.
	if enr, ok := late(); ok {
		return w.change(ctx, key, received, lateEvidence(id, enr))
	}
	return nil
}

// changeLocked is change under the incident's lock in this process. It returns the incident's
// id and, for a (re)opening whose enrichers are still running, their late function.
func (w *Worker) changeLocked(ctx context.Context, key string, received time.Time, decide func(*triaged.Incident) (*triaged.Incident, step)) (string, func() (triaged.Enrichment, bool), error) {
	defer w.keys.lock(key)()
	done := w.stage("incident")
	rec, rev, err := w.load(ctx, key)
	done()
	if err != nil {
		return "", nil, err
	}
	if rec != nil && len(rec.Outbox) > 0 {
		if rev, err = w.deliver(ctx, key, rev, rec); err != nil {
			return "", nil, err
		}
	}
	var prev *triaged.Incident
	var cls triaged.Classification
	if rec != nil {
		prev, cls = &rec.Incident, rec.Classification
	}
	inc, st := decide(prev)
	w.metrics.absorbed.Add(float64(st.absorbed))
	if st.skip != "" {
		if st.skip != skipWaiting {
			w.metrics.skipped.WithLabelValues(st.skip).Inc()
		}
		return "", nil, nil
	}
	next := &record{Incident: *inc, Classification: cls}
	now := w.o.Now()
	var late func() (triaged.Enrichment, bool)
	if st.investigate {
		next.Classification, late = w.investigate(ctx, &next.Incident)
	}
	if st.event != "" {
		w.report(next, st, received, now)
	}
	if st.flushAt != nil {
		w.scheduleFlush(rec, next, key, *st.flushAt)
	}
	if prev == nil || prev.ID != next.ID {
		// Before the state: once it is stored, a redelivery finds nothing left to do.
		if err := w.index(ctx, key, prev, next.ID); err != nil {
			return "", nil, err
		}
	}
	if rev, err = w.store(ctx, key, rev, next); err != nil || len(next.Outbox) == 0 {
		return next.ID, nil, err // with nothing to publish, no second write to clear the outbox
	}
	_, err = w.deliver(ctx, key, rev, next)
	return next.ID, late, err
}

// index makes incident id findable, and keeps prev, the incident of the group it replaces,
// readable under its own id. Both writes are idempotent, so a retry repeats them harmlessly.
func (w *Worker) index(ctx context.Context, key string, prev *triaged.Incident, id string) error {
	if prev != nil {
		data, err := encodeRecord(prev) // as it was stored, within the max payload
		if err != nil {
			return fmt.Errorf("archive incident %s: %w", prev.ID, err)
		}
		if _, err := w.o.Incidents.Put(ctx, triaged.ArchivedIncidentKey(prev.ID), data); err != nil {
			return fmt.Errorf("archive incident %s: %w", prev.ID, err)
		}
		if _, err := w.o.Incidents.Put(ctx, triaged.IncidentIndexKey(prev.ID), []byte(triaged.ArchivedIncidentKey(prev.ID))); err != nil {
			return fmt.Errorf("index incident %s: %w", prev.ID, err)
		}
	}
	if _, err := w.o.Incidents.Put(ctx, triaged.IncidentIndexKey(id), []byte(key)); err != nil {
		return fmt.Errorf("index incident %s: %w", id, err)
	}
	return nil
}

// investigate enriches an incident that (re)starts firing, from its most severe alert, lets the
// escalation rules raise its severity on what was found, and returns the classification its
// reports are made with, and the enrichment's late function, if any.
func (w *Worker) investigate(ctx context.Context, inc *triaged.Incident) (triaged.Classification, func() (triaged.Enrichment, bool)) {
	a := representative(inc)
	inc.Service = w.o.Resolver.Resolve(a)
	cls := undropped(unshadowed(w.o.Classifier).Classify(a, inc.Service, w.o.Now()), inc)
	if inc.Severity.Valid() && inc.Severity < cls.Severity {
		cls.Severity = inc.Severity // another member is more severe than the one enriched for
	}
	done := w.stage("enrich")
	enr, late := w.enrich(ctx, inc.ID, a, inc.Service, cls)
	done()
	cls = w.escalate(cls, a, inc, &enr) // and the opening's history record
	inc.Severity, inc.Decisions, inc.Evidence = cls.Severity, cls.Decisions, &enr
	return cls, late
}
