package triaged

import "time"

// Enrichment is what triage gathered about an incident beyond the alert itself: recent changes,
// health probes, log tails and the runbook. The report shows it, and the escalation rules read it.
// A section that was not collected is named in Pending with the reason in PendingWhy, so the
// report says so rather than stays silently empty.
type Enrichment struct {
	// Changes are the deploys found, nearest the alert first, at most MaxReportChanges;
	// ChangesOmitted counts those found beyond.
	Changes        []Change
	ChangesOmitted int
	// ChangesSummary states what the deploy lookup found in words, including that it found nothing;
	// ChangesWindow is how far back it looked.
	ChangesSummary string
	ChangesWindow  time.Duration
	// ChangesIncomplete says why Changes may lack deploys of the window (the deploy index was
	// loading, or its bounds dropped events), or is "" when they cannot: then an empty Changes
	// is evidence that nothing was deployed.
	ChangesIncomplete string
	Probes            []Probe
	Logs              []LogTail
	Runbook           *Runbook
	// Metrics are what Prometheus said (the alert's own expression first, then the catalog's
	// queries); MeasuredImpact the user impact computed from them, when the catalog marks queries
	// for it. Graphs are the PNGs rendered of them: stored with the incident, never in its record.
	Metrics        []MetricEvidence `json:",omitempty"`
	MeasuredImpact *MeasuredImpact  `json:",omitempty"`
	Graphs         []Graph          `json:"-"`
	// Observations are findings in words that belong to no section of their own.
	Observations []string
	Pending      []string
	PendingWhy   map[string]string
}

// The sections enrichment fills, as Pending names them.
const (
	SectionRecentChanges = "recent_changes"
	SectionProbes        = "probes"
	SectionLogs          = "logs"
	SectionRunbook       = "runbook"
)

// Pend marks a section as not collected, and says why.
func (e *Enrichment) Pend(section, why string) {
	e.Pending = append(e.Pending, section)
	if e.PendingWhy == nil {
		e.PendingWhy = map[string]string{}
	}
	e.PendingWhy[section] = why
}

// ErrorLinePattern decides which log lines look like errors: what a log tail keeps by default
// and what escalation rules see as error_lines. It matches the usual level and failure words as
// whole words, in any case (logfmt level=error, JSON "level":"error", ERROR, FATAL, panic:,
// "request failed", "timed out"), and Java and Python exception markers anywhere.
const ErrorLinePattern = `(?i)\b(err|error|errors|fatal|panic|crit|critical|emerg|fail|failed|failure|timeout|timed out)\b|exception|traceback`
