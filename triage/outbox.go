package triage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// report builds the report of a step and puts it in the record's outbox.
func (w *Worker) report(r *record, st step, received time.Time, now time.Time) {
	done := w.stage("report")
	defer done()
	inc := &r.Incident
	inc.Seq++
	inc.LastReportAt = now
	a := representative(inc)
	a.ReceivedAt = received
	cls := r.Classification
	cls.Severity, cls.Decisions = inc.Severity, inc.Decisions
	var enr triaged.Enrichment
	if inc.Evidence != nil {
		enr = *inc.Evidence
	}
	rep := BuildReport(inc, a, inc.Service, cls, enr, st.event, st.notes, now)
	rep.EscalationPath = w.o.Escalation[rep.Severity]
	data, rep, err := triaged.EncodeReportWithin(rep, cmp.Or(w.o.ReportMaxBytes, triaged.DefaultReportMaxBytes))
	if err == nil && len(rep.Trimmed) > 0 {
		w.log.Warn("report trimmed to fit its budget", "incident", inc.ID, "report", rep.ID, "bytes", len(data), "trimmed", rep.Trimmed)
	}
	if err != nil {
		// A report that cannot be encoded is a bug of ours; the incident's state still moves on.
		w.log.Error("report not encodable", "incident", inc.ID, "err", err)
		return
	}
	inc.Reports = append(inc.Reports, triaged.ReportRef{ID: rep.ID, Event: rep.Event, Severity: rep.Severity, At: now})
	if over := len(inc.Reports) - triaged.MaxReports; over > 0 {
		inc.Reports = slices.Clone(inc.Reports[over:])
	}
	r.Outbox = append(r.Outbox, outMsg{Subject: w.o.Names.ReportSubject(rep.Event, rep.Severity), MsgID: rep.ID, Data: data, Report: len(inc.Reports) - 1})
	if st.event == triaged.EventUpdated {
		w.metrics.updates.WithLabelValues(cmp.Or(st.reason, "changed")).Inc()
	}
	w.metrics.reports.WithLabelValues(string(rep.Event), rep.Severity.String()).Inc()
	if !received.IsZero() {
		w.metrics.latency.WithLabelValues(string(rep.Event), rep.Severity.String()).Observe(now.Sub(received).Seconds())
	}
	if st.event == triaged.EventOpened {
		w.metrics.age.Observe(now.Sub(inc.OpenedAt).Seconds())
	}
}

// deliver publishes the record's outbox and then clears it, recording where each report went.
// Publishing again after a crash is harmless: every message has its id.
func (w *Worker) deliver(ctx context.Context, key string, rev uint64, r *record) (uint64, error) {
	done := w.stage("publish")
	for _, m := range r.Outbox {
		msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
		msg.Header.Set("Triaged-Incident", r.ID)
		ack, err := w.o.JetStream.PublishMsg(ctx, msg, jetstream.WithMsgID(m.MsgID))
		if err != nil {
			return rev, fmt.Errorf("publish %s of incident %s: %w", m.MsgID, r.ID, err)
		}
		if m.Report >= 0 && m.Report < len(r.Reports) && r.Reports[m.Report].ID == m.MsgID {
			r.Reports[m.Report].Seq = ack.Sequence
		}
	}
	done()
	r.Outbox = nil
	rev, err := w.store(ctx, key, rev, r)
	if errors.Is(err, errConflict) {
		return rev, nil // someone changed it since: they published the outbox too
	}
	return rev, err
}
