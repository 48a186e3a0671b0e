package triage

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/history"
)

// HistoryWriter keeps the records a backtest replays (history.Writer is one). Write must not
// block on the server nor fail triage: what it cannot store it counts and drops. id is the
// message id the history stream deduplicates by, so a redelivered alert is kept once.
type HistoryWriter interface {
	Write(id string, rec *history.Record)
}

// HistoryEvidenceMaxBytes bounds the evidence of one opening record, encoded. Over it, the
// oldest error lines go first, then the metrics' query text; evidence still over it is left out.
// The record's EvidenceOmitted says what went.
const HistoryEvidenceMaxBytes = 16 << 10

// classify is the classification stage for one alert of b, and its history record: the record
// carries the time the rules saw, so a replay evaluates them at the same hour and active_for.
func (w *Worker) classify(b *triaged.Batch, a *triaged.Alert, svc triaged.Service) triaged.Classification {
	now := w.o.Now()
	cls := w.o.Classifier.Classify(a, svc, now)
	if w.o.History == nil {
		return cls
	}
	rec := &history.Record{
		Kind: history.KindAlert, At: now, Alert: *a, Service: svc, Group: w.o.Policy.key(b.Group, a),
		Severity: cls.Severity, Rule: cls.Rule, Dropped: cls.Dropped, RuleSetVersion: cls.RuleSetVersion,
	}
	// The alert in its state, and the message it came in (its receipt time): a redelivery of the
	// message repeats the id, a later notification of the same alert does not.
	w.o.History.Write(history.KindAlert+":"+a.MsgID()+":"+strconv.FormatInt(b.ReceivedAt.UnixNano(), 10), rec)
	return cls
}

// escalate lets the escalation rules, if any, raise cls on what enrichment found for the
// (re)opening incident inc, from its representative alert a, and records the opening with the
// evidence as escalation read it.
func (w *Worker) escalate(cls triaged.Classification, a *triaged.Alert, inc *triaged.Incident, enr *triaged.Enrichment) triaged.Classification {
	now := w.o.Now()
	if w.o.Escalator != nil {
		done := w.stage("escalate")
		cls = w.o.Escalator.Escalate(cls, a, inc.Service, *enr, now)
		done()
	}
	if w.o.History == nil {
		return cls
	}
	rec := &history.Record{
		Kind: history.KindOpening, At: now, Alert: *a, Service: inc.Service, Group: inc.Key, Incident: inc.ID,
		Severity: cls.Severity, Rule: cls.Rule, RuleSetVersion: cls.RuleSetVersion,
	}
	rec.Evidence, rec.EvidenceOmitted = historyEvidence(enr, HistoryEvidenceMaxBytes)
	// An incident keeps its id when it reopens; each (re)opening starts an episode, whose start
	// is the alerts' and so the same on a redelivery.
	var start time.Time
	if n := len(inc.Episodes); n > 0 {
		start = inc.Episodes[n-1].Start
	}
	w.o.History.Write(history.KindOpening+":"+inc.ID+":"+strconv.FormatInt(start.UnixNano(), 10), rec)
	return cls
}

var errorLine = regexp.MustCompile(triaged.ErrorLinePattern)

// historyEvidence is enr as the escalation rules read it (rules.newEscalationEnv): without
// graphs, probe bodies, observations, runbook steps, the log lines that are not error_lines and
// the metrics' sparklines, windows and series labels; within maxBytes encoded. It returns what
// had to be left out beyond that, "" when nothing.
func historyEvidence(enr *triaged.Enrichment, maxBytes int) (*triaged.Enrichment, string) {
	e := &triaged.Enrichment{
		Changes: slices.Clone(enr.Changes), ChangesOmitted: enr.ChangesOmitted, ChangesSummary: enr.ChangesSummary,
		ChangesWindow: enr.ChangesWindow, ChangesIncomplete: enr.ChangesIncomplete,
		MeasuredImpact: enr.MeasuredImpact, Pending: enr.Pending, PendingWhy: enr.PendingWhy,
	}
	for _, p := range enr.Probes {
		p.Body = ""
		e.Probes = append(e.Probes, p)
	}
	for _, l := range enr.Logs {
		t := triaged.LogTail{Source: l.Source, Truncated: l.Truncated, LinesOmitted: l.LinesOmitted, Error: l.Error}
		for _, line := range l.Lines {
			if errorLine.MatchString(line) {
				t.Lines = append(t.Lines, line)
			}
		}
		e.Logs = append(e.Logs, t)
	}
	for _, m := range enr.Metrics {
		m.Sparkline, m.SeriesLabels, m.HasGraph, m.Graph = "", nil, false, ""
		m.WindowStart, m.WindowEnd = time.Time{}, time.Time{}
		e.Metrics = append(e.Metrics, m)
	}
	if r := enr.Runbook; r != nil {
		e.Runbook = &triaged.Runbook{Title: r.Title, Path: r.Path, URL: r.URL, SeverityHint: r.SeverityHint}
	}
	size := encodedSize(e)
	if size <= maxBytes {
		return e, ""
	}
	var omitted []string
	if n := dropOldestLines(e, size-maxBytes); n > 0 {
		omitted = append(omitted, fmt.Sprintf("the %d oldest error lines", n))
		size = encodedSize(e)
	}
	if size > maxBytes && len(e.Metrics) > 0 {
		for i := range e.Metrics {
			e.Metrics[i].Query, e.Metrics[i].Expr = "", ""
		}
		omitted = append(omitted, "the metrics' queries")
		size = encodedSize(e)
	}
	if size > maxBytes {
		return nil, fmt.Sprintf("the evidence: %d bytes over the history's limit of %d", size, maxBytes)
	}
	return e, fmt.Sprintf("%s: over the history's limit of %d bytes", joinAnd(omitted), maxBytes)
}

// dropOldestLines takes the oldest lines off the longest log tails until about over bytes are
// gone, counts them in the tails' LinesOmitted, and returns how many went.
func dropOldestLines(e *triaged.Enrichment, over int) int {
	n := 0
	for over > 0 {
		longest := -1
		for i, l := range e.Logs {
			if len(l.Lines) > 0 && (longest < 0 || len(l.Lines) > len(e.Logs[longest].Lines)) {
				longest = i
			}
		}
		if longest < 0 {
			break
		}
		l := &e.Logs[longest]
		over -= encodedSize(l.Lines[0]) + 1 // and its comma
		l.Lines = l.Lines[1:]
		l.LinesOmitted++
		l.Truncated = true
		n++
	}
	return n
}

func encodedSize(v any) int {
	data, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(data)
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return fmt.Sprint(parts[0], " and ", parts[1])
}
