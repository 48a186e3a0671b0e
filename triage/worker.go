package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
)

// Classifier decides an alert's severity. The rules engine is one; tests pass their own.
type Classifier interface {
	Classify(a *triaged.Alert, now time.Time) triaged.Classification
}

// Escalator may raise a classification once enrichment has found deploys, probe results and
// log lines: the rules engine's second stage.
type Escalator interface {
	Escalate(c triaged.Classification, a *triaged.Alert, enr Enrichment, now time.Time) triaged.Classification
}

// Enricher maps an alert to its service, then gathers what the report needs beyond the alert,
// under the deadline in ctx. Enrich never fails: what it could not collect is recorded in the
// Enrichment.
type Enricher interface {
	Resolve(a *triaged.Alert) Resolution
	Enrich(ctx context.Context, a *triaged.Alert, res Resolution, cls triaged.Classification) Enrichment
}

// notCollected is the enrichment when no enricher is configured.
type notCollected struct{}

func (notCollected) Resolve(a *triaged.Alert) Resolution { return resolve(a, nil) }

func (notCollected) Enrich(_ context.Context, _ *triaged.Alert, res Resolution, _ triaged.Classification) Enrichment {
	return Enrichment{Resolution: res, Pending: []string{"recent_changes", "probes", "logs"}}
}

// Options wires a Worker.
type Options struct {
	JetStream  jetstream.JetStream
	Names      broker.Names
	Incidents  jetstream.KeyValue
	Classifier Classifier
	Escalator  Escalator // optional
	Enricher   Enricher  // optional: without it the enrichment sections are reported as not collected
	// PublishTimeout bounds each JetStream round trip of one message's handling.
	PublishTimeout time.Duration
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
func New(o Options) *Worker {
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 10 * time.Second
	}
	if len(o.RetryBackoff) == 0 {
		o.RetryBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Enricher == nil {
		o.Enricher = notCollected{}
	}
	return &Worker{o: o, log: o.Logger.With("component", "triage"), metrics: newMetrics(o.Registerer)}
}

// Run consumes the shared triage consumer with at most workers concurrent handlers until ctx
// is done, then finishes the work in hand.
func (w *Worker) Run(ctx context.Context, c jetstream.Consumer, workers int, ackWait time.Duration) error {
	w.metrics.workers.Set(float64(workers))
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	go w.pollPending(pollCtx, c)
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

// errConflict means another worker changed the incident between our read and our write.
var errConflict = errors.New("incident changed concurrently")

// Handle triages one alert message and makes its single ack decision.
func (w *Worker) Handle(ctx context.Context, m jetstream.Msg) {
	if meta, err := m.Metadata(); err == nil && meta.NumDelivered > 1 {
		w.metrics.redelivered.Inc()
	}
	start := w.o.Now()
	a, err := triaged.DecodeAlert(m.Data())
	w.metrics.stage.WithLabelValues("decode").Observe(w.o.Now().Sub(start).Seconds())
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
	n := uint64(1)
	if meta, merr := m.Metadata(); merr == nil {
		n = meta.NumDelivered
	}
	delay := w.o.RetryBackoff[min(int(n)-1, len(w.o.RetryBackoff)-1)]
	if errors.Is(err, errConflict) {
		delay = 0 // the other writer has finished: re-read and decide again at once
	}
	w.log.Warn("triage failed; will retry", "alertname", a.Name(), "fingerprint", a.ID(), "attempt", n, "retry_in", delay, "err", err)
	w.metrics.retried.Inc()
	_ = m.NakWithDelay(delay)
}

// incident is the state kept per alert fingerprint in the incidents bucket: what was last
// reported, so a resent or redelivered alert does not produce a second report.
type incident struct {
	ID       string           `json:"incident_id"`
	Status   string           `json:"status"`
	Severity triaged.Severity `json:"severity"` // as reported, after escalation
	// Classified is the severity before escalation: a resend is compared on it, since
	// escalation depends on enrichment that changes from one look to the next.
	Classified triaged.Severity   `json:"classified_severity"`
	Rule       string             `json:"rule"`
	RuleSet    string             `json:"rule_set_version"`
	Decisions  []triaged.Decision `json:"decisions,omitempty"`
	StartsAt   time.Time          `json:"starts_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
	Report     string             `json:"last_report"`
}

// triage publishes the report an alert calls for, if any, and records it. Its steps are
// idempotent: the report id is derived from the alert, and the state write is a
// compare-and-set, so a crash or a race at any point leads, on redelivery, to the same
// single report.
func (w *Worker) triage(ctx context.Context, a *triaged.Alert) error {
	ctx, cancel := context.WithTimeout(ctx, w.o.PublishTimeout)
	defer cancel()
	key := a.ID()

	t := w.o.Now()
	prev, rev, err := w.loadIncident(ctx, key)
	if err != nil {
		return err
	}
	w.metrics.stage.WithLabelValues("incident").Observe(w.o.Now().Sub(t).Seconds())

	res := w.o.Enricher.Resolve(a)
	a.Service, a.Environment = res.Name, res.Environment
	t = w.o.Now()
	cls := w.o.Classifier.Classify(a, t)
	w.metrics.stage.WithLabelValues("classify").Observe(w.o.Now().Sub(t).Seconds())

	event, skip := decideEvent(a, prev, cls)
	if skip != "" {
		w.log.Debug("alert needs no new report", "alertname", a.Name(), "fingerprint", key, "reason", skip)
		w.metrics.skipped.WithLabelValues(skip).Inc()
		return nil
	}
	classified := cls.Severity

	var enr Enrichment
	if event == triaged.EventResolved {
		enr.Resolution = res
		// Nothing to investigate any more; a resolution keeps the severity it was reported
		// with, and the rules that decided it, even if the rules changed since.
		if prev != nil && prev.ID == a.IncidentID() {
			cls.Severity, cls.Rule, cls.RuleSetVersion, cls.Decisions = prev.Severity, prev.Rule, prev.RuleSet, prev.Decisions
		}
	} else {
		t = w.o.Now()
		enr = w.o.Enricher.Enrich(ctx, a, res, cls)
		w.metrics.stage.WithLabelValues("enrich").Observe(w.o.Now().Sub(t).Seconds())
		if w.o.Escalator != nil {
			t = w.o.Now()
			cls = w.o.Escalator.Escalate(cls, a, enr, t)
			w.metrics.stage.WithLabelValues("escalate").Observe(w.o.Now().Sub(t).Seconds())
		}
	}

	t = w.o.Now()
	rep := BuildReport(a, cls, enr, event, t)
	data, err := triaged.EncodeReport(rep)
	if err != nil {
		return fmt.Errorf("encode report %s: %w", rep.ID, err)
	}
	w.metrics.stage.WithLabelValues("report").Observe(w.o.Now().Sub(t).Seconds())

	t = w.o.Now()
	msg := &nats.Msg{Subject: w.o.Names.ReportSubject(rep.Event, rep.Severity), Data: data, Header: nats.Header{}}
	msg.Header.Set("Triaged-Incident", rep.IncidentID)
	ack, err := w.o.JetStream.PublishMsg(ctx, msg, jetstream.WithMsgID(rep.ID))
	if err != nil {
		return fmt.Errorf("publish report %s: %w", rep.ID, err)
	}
	w.metrics.stage.WithLabelValues("publish").Observe(w.o.Now().Sub(t).Seconds())
	// Counted when first on the stream: a redelivery that republishes it is a duplicate.
	if !ack.Duplicate {
		w.metrics.reports.WithLabelValues(string(rep.Event), rep.Severity.String()).Inc()
		w.metrics.latency.Observe(w.o.Now().Sub(a.ReceivedAt).Seconds())
		w.log.Debug("report published", "incident", rep.IncidentID, "event", rep.Event, "severity", rep.Severity, "alertname", a.Name())
	}

	return w.storeIncident(ctx, key, rev, incident{
		ID: a.IncidentID(), Status: a.Status, Severity: rep.Severity, Classified: classified, Rule: rep.Rule,
		RuleSet: rep.RuleSetVersion, Decisions: rep.Decisions,
		StartsAt: a.StartsAt, UpdatedAt: rep.TriagedAt, Report: rep.ID,
	})
}

// decideEvent returns the event an alert calls for given the incident's last reported state,
// or a reason to report nothing.
func decideEvent(a *triaged.Alert, prev *incident, cls triaged.Classification) (triaged.Event, string) {
	same := prev != nil && prev.ID == a.IncidentID()
	switch {
	case a.Resolved() && same && prev.Status == triaged.StatusResolved:
		return "", "duplicate"
	case a.Resolved():
		return triaged.EventResolved, ""
	case same && prev.Status == triaged.StatusResolved:
		return "", "stale" // a firing message overtaken by its own resolution
	case same && prev.Classified == cls.Severity:
		return "", "duplicate"
	case same:
		return triaged.EventUpdated, ""
	default:
		return triaged.EventOpened, ""
	}
}

func (w *Worker) loadIncident(ctx context.Context, key string) (*incident, uint64, error) {
	e, err := w.o.Incidents.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read incident %s: %w", key, err)
	}
	var inc incident
	if err := json.Unmarshal(e.Value(), &inc); err != nil {
		// State we cannot read is replaced rather than blocking the alert forever.
		w.log.Warn("incident state unreadable; replacing it", "fingerprint", key, "err", err)
		return nil, e.Revision(), nil
	}
	return &inc, e.Revision(), nil
}

func (w *Worker) storeIncident(ctx context.Context, key string, rev uint64, inc incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("encode incident %s: %w", key, err)
	}
	if rev == 0 {
		_, err = w.o.Incidents.Create(ctx, key, data)
	} else {
		_, err = w.o.Incidents.Update(ctx, key, data, rev)
	}
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyExists),
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return fmt.Errorf("store incident %s: %w", key, errConflict)
	default:
		return fmt.Errorf("store incident %s: %w", key, err)
	}
}
