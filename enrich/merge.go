package enrich

import (
	"fmt"
	"slices"
	"strings"

	"github.com/triaged/triaged"
)

// count records each enricher's run in the metrics and logs the ones that did not finish.
func (e *Enricher) count(a *triaged.Alert, tasks []task, findings []finding) {
	for i, f := range findings {
		t := tasks[i]
		e.metrics.duration.WithLabelValues(string(t.kind)).Observe(f.elapsed.Seconds())
		e.metrics.results.WithLabelValues(string(t.kind), string(f.outcome)).Inc()
		if f.err != nil {
			e.log.Warn("enricher did not finish", "enricher", t.description(), "alertname", a.Name(), "fingerprint", a.ID(), "err", f.err)
		}
	}
}

// merge puts the findings into the enrichment, in task order.
func (e *Enricher) merge(enr *triaged.Enrichment, tasks []task, findings []finding) {
	for i, f := range findings {
		t := tasks[i]
		if f.err != nil {
			enr.Observations = append(enr.Observations, fmt.Sprintf("%s: not collected: %v", capitalize(t.description()), f.err))
			placeholder(enr, t, f.err)
			continue
		}
		switch {
		case f.changes != nil:
			// Nearest first: the suspects are kept, the rest of a flood of deploys is counted.
			n := min(len(f.changes.Changes), triaged.MaxReportChanges)
			enr.Changes, enr.ChangesOmitted = slices.Clone(f.changes.Changes[:n]), len(f.changes.Changes)-n
			enr.ChangesSummary = f.changes.Summary
			enr.ChangesIncomplete = f.changes.Incomplete
		case f.probe != nil:
			enr.Probes = append(enr.Probes, *f.probe)
		case f.logs != nil:
			enr.Logs = append(enr.Logs, *f.logs)
		case f.runbook != nil:
			if f.runbook.Runbook != nil {
				rb := *f.runbook.Runbook
				rb.SeverityHint = f.runbook.SeverityHint
				rb.Why = f.runbook.Reasons
				enr.Runbook = &rb
			}
		case f.metrics != nil:
			enr.Metrics, enr.MeasuredImpact, enr.Graphs = f.metrics.evidence, f.metrics.impact, f.metrics.graphs
		}
	}
}

// placeholder keeps a probe or log source that did not finish visible in its section.
func placeholder(enr *triaged.Enrichment, t task, err error) {
	switch t.kind {
	case KindProbe:
		enr.Probes = append(enr.Probes, triaged.Probe{Name: t.name, OK: false, Error: err.Error()})
	case KindLogs:
		enr.Logs = append(enr.Logs, triaged.LogTail{Source: t.name, Lines: []string{}, Error: err.Error()})
	case KindMetrics:
		enr.Pend(triaged.SectionMetrics, "not collected: "+err.Error())
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
