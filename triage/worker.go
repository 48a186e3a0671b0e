package triage

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
// fails: what it could not collect is recorded in the Enrichment.
type Enricher interface {
	Enrich(ctx context.Context, a *triaged.Alert, svc triaged.Service, cls triaged.Classification) triaged.Enrichment
}

// labelsOnly resolves services without a catalog.
type labelsOnly struct{}

func (labelsOnly) Resolve(a *triaged.Alert) triaged.Service { return triaged.LabelledService(a) }

// notCollected is the enrichment when no enricher is configured.
type notCollected struct{}

func (notCollected) Enrich(context.Context, *triaged.Alert, triaged.Service, triaged.Classification) triaged.Enrichment {
	return triaged.Enrichment{Pending: []string{triaged.SectionRecentChanges, triaged.SectionProbes, triaged.SectionLogs}}
}

// Options wires a Worker.
type Options struct {
	JetStream  jetstream.JetStream
	Names      broker.Names
	Incidents  jetstream.KeyValue
	Resolver   Resolver // optional: without it the service comes from the alert's labels
	Classifier Classifier
	Escalator  Escalator // optional
	Enricher   Enricher  // optional: without it the enrichment sections are reported as not collected
	// HandleTimeout bounds the whole handling of one message, enrichment and every JetStream
	// round trip included (the config's triage.timeout). Required.
	HandleTimeout time.Duration
	// RetryBackoff is the delay before the n-th redelivery after a transient failure; the last
	// value repeats.
	RetryBackoff []time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

// Worker handles alert messages. It is safe for concurrent use by a pool.
type Worker struct {
	o       Options
	log     *slog.Logger
	metrics *metrics
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
	if o.Resolver == nil {
		o.Resolver = labelsOnly{}
	}
	if o.Enricher == nil {
		o.Enricher = notCollected{}
	}
	return &Worker{o: o, log: o.Logger.With("component", "triage"), metrics: newMetrics(o.Registerer)}, nil
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
	return broker.Run(ctx, c, broker.RunOptions{
		Workers:         workers,
		InProgressEvery: ackWait / 3,
		Logger:          w.log,
		Busy:            func(d int) { w.metrics.busy.Add(float64(d)) },
		OnPanic:         func(jetstream.Msg, any) { w.metrics.terminated.WithLabelValues("panic").Inc() },
	}, w.Handle)
}

// pollPending keeps the pending-messages gauge current without a NATS round trip per scrape.
func (w *Worker) pollPending(ctx context.Context, c jetstream.Consumer) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if info, err := c.Info(ictx); err == nil {
			w.metrics.pending.Set(float64(info.NumPending))
			w.metrics.ackPending.Set(float64(info.NumAckPending))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Handle triages one alert message and makes its single ack decision.
func (w *Worker) Handle(ctx context.Context, m jetstream.Msg) {
	if meta, err := m.Metadata(); err == nil && meta.NumDelivered > 1 {
		w.metrics.redelivered.Inc()
	}
	done := w.stage("decode")
	a, err := triaged.DecodeAlert(m.Data())
	done()
	if err != nil {
		w.log.Error("alert message undecodable; terminated", "subject", m.Subject(), "err", err)
		w.metrics.terminated.WithLabelValues("undecodable").Inc()
		_ = m.TermWithReason("undecodable: " + err.Error())
		return
	}
	if err := w.triage(ctx, a); err != nil {
		w.retry(m, a, err)
		return
	}
	_ = m.Ack()
}

func (w *Worker) retry(m jetstream.Msg, a *triaged.Alert, err error) {
	delay, n := broker.RetryDelay(m, w.o.RetryBackoff)
	if errors.Is(err, errConflict) {
		delay = 0 // the other writer has finished: re-read and decide again at once
	}
	w.log.Warn("triage failed; will retry", "alertname", a.Name(), "fingerprint", a.ID(), "attempt", n, "retry_in", delay, "err", err)
	w.metrics.retried.Inc()
	_ = m.NakWithDelay(delay)
}

// stage starts timing one step of a message's handling; calling the result records it.
func (w *Worker) stage(name string) (done func()) {
	start := w.o.Now()
	return func() { w.metrics.stage.WithLabelValues(name).Observe(w.o.Now().Sub(start).Seconds()) }
}

// triage publishes the report an alert calls for, if any, and records it. Its steps are
// idempotent: the report id is derived from the alert, and the state write is a
// compare-and-set, so a crash or a race at any point leads, on redelivery, to the same
// single report.
func (w *Worker) triage(ctx context.Context, a *triaged.Alert) error {
	ctx, cancel := context.WithTimeout(ctx, w.o.HandleTimeout)
	defer cancel()

	done := w.stage("incident")
	prev, rev, err := w.loadIncident(ctx, a.ID())
	done()
	if err != nil {
		return err
	}

	svc := w.o.Resolver.Resolve(a)
	done = w.stage("classify")
	cls := w.o.Classifier.Classify(a, svc, w.o.Now())
	done()

	event, skip := decideEvent(a, prev, cls.Severity)
	if skip != "" {
		w.log.Debug("alert needs no new report", "alertname", a.Name(), "fingerprint", a.ID(), "reason", skip)
		w.metrics.skipped.WithLabelValues(skip).Inc()
		return nil
	}
	classified := cls.Severity

	var enr triaged.Enrichment
	if event == triaged.EventResolved {
		cls = keepReportedSeverity(a, prev, cls)
	} else {
		cls, enr = w.investigate(ctx, a, svc, cls)
	}

	done = w.stage("report")
	rep := BuildReport(a, svc, cls, enr, event, w.o.Now())
	data, err := triaged.EncodeReport(rep)
	done()
	if err != nil {
		return fmt.Errorf("encode report %s: %w", rep.ID, err)
	}

	if err := w.publish(ctx, a, rep, data); err != nil {
		return err
	}
	return w.storeIncident(ctx, a.ID(), rev, incident{
		ID: a.IncidentID(), Status: a.Status, Severity: rep.Severity, Classified: classified, Rule: rep.Rule,
		RuleSet: rep.RuleSetVersion, Decisions: rep.Decisions,
		StartsAt: a.StartsAt, UpdatedAt: rep.TriagedAt, Report: rep.ID,
	})
}

// keepReportedSeverity gives a resolution the severity its incident was reported with, and the
// rules that decided it, even if the rules changed since: nothing is investigated any more.
func keepReportedSeverity(a *triaged.Alert, prev *incident, cls triaged.Classification) triaged.Classification {
	if prev != nil && prev.ID == a.IncidentID() {
		cls.Severity, cls.Rule, cls.RuleSetVersion, cls.Decisions = prev.Severity, prev.Rule, prev.RuleSet, prev.Decisions
	}
	return cls
}

// investigate enriches a firing alert and lets the escalation rules raise its severity on what
// was found.
func (w *Worker) investigate(ctx context.Context, a *triaged.Alert, svc triaged.Service, cls triaged.Classification) (triaged.Classification, triaged.Enrichment) {
	done := w.stage("enrich")
	enr := w.o.Enricher.Enrich(ctx, a, svc, cls)
	done()
	if w.o.Escalator != nil {
		done = w.stage("escalate")
		cls = w.o.Escalator.Escalate(cls, a, svc, enr, w.o.Now())
		done()
	}
	return cls, enr
}

// publish puts the report on the reports stream, deduplicated by its id.
func (w *Worker) publish(ctx context.Context, a *triaged.Alert, rep *triaged.Report, data []byte) error {
	done := w.stage("publish")
	msg := &nats.Msg{Subject: w.o.Names.ReportSubject(rep.Event, rep.Severity), Data: data, Header: nats.Header{}}
	msg.Header.Set("Triaged-Incident", rep.IncidentID)
	ack, err := w.o.JetStream.PublishMsg(ctx, msg, jetstream.WithMsgID(rep.ID))
	if err != nil {
		return fmt.Errorf("publish report %s: %w", rep.ID, err)
	}
	done()
	// Counted when first on the stream: a redelivery that republishes it is a duplicate.
	if !ack.Duplicate {
		w.metrics.reports.WithLabelValues(string(rep.Event), rep.Severity.String()).Inc()
		w.metrics.latency.Observe(w.o.Now().Sub(a.ReceivedAt).Seconds())
		w.log.Debug("report published", "incident", rep.IncidentID, "event", rep.Event, "severity", rep.Severity, "alertname", a.Name())
	}
	return nil
}
