package triaged

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// ReportSchemaVersion is the version of the report JSON below. It changes only when a field is
// removed or changes meaning; added fields keep it.
const ReportSchemaVersion = 2

// Event says what a report announces about its incident.
type Event string

// The report events, also the second token of a report's NATS subject.
const (
	EventOpened   Event = "opened"   // first report of an incident
	EventUpdated  Event = "updated"  // the incident changed: members joined or recovered, severity, flapping
	EventResolved Event = "resolved" // every member of the incident resolved
)

// Report statuses, in the incident-response workflow's words.
const (
	ReportInvestigating = "INVESTIGATING"
	ReportResolved      = "RESOLVED"
)

// Report is the initial incident report: the workflow's INCIDENT REPORT template, filled by
// triage. Its JSON is the documented, versioned contract of the reports stream and the sinks.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	ID            string `json:"id"`
	IncidentID    string `json:"incident_id"`
	Event         Event  `json:"event"`
	// Headline is the one line every report of the incident starts with, the workflow's initial
	// notification: "P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · no deploys in 2h".
	Headline string `json:"headline"`
	// Changes say, in words, what changed since the incident's previous report: "2 more alerts
	// joined (api-3, api-4)", "1 of 3 recovered, 2 still firing".
	Changes []string `json:"changes,omitempty"`
	// AlertsFiring and AlertsResolved count the incident's member alerts by status.
	AlertsFiring   int `json:"alerts_firing"`
	AlertsResolved int `json:"alerts_resolved"`
	// AlertsOmitted counts member alerts left out of Alerts to keep the report within its budget.
	AlertsOmitted int `json:"alerts_omitted,omitempty"`
	// Flapping is set while the incident resolves and refires too often; FlapAdvice then gives
	// the measured period and the for: / keep_firing_for: to set on the alerting rule.
	Flapping   bool   `json:"flapping,omitempty"`
	FlapAdvice string `json:"flap_advice,omitempty"`
	// Recurrence says how often the group fired before, and where that was looked up.
	Recurrence string `json:"recurrence,omitempty"`
	// OnCall is the service's on-call from the catalog: the default incident commander.
	OnCall string `json:"oncall,omitempty"`
	// EscalationPath is who is escalated to at this severity, from the config, in order.
	EscalationPath []string `json:"escalation_path,omitempty"`
	// Deadlines are the workflow's response SLA for the severity as times from the start.
	Deadlines *Deadlines `json:"deadlines,omitempty"`
	// NextUpdateDue is when the next status update is due by the workflow's cadence for the
	// severity (open incidents); PostmortemDue when the postmortem is due (resolved P1 and P2).
	NextUpdateDue *time.Time `json:"next_update_due,omitempty"`
	PostmortemDue *time.Time `json:"postmortem_due,omitempty"`

	Severity     Severity `json:"severity"`
	SeverityName string   `json:"severity_name"`
	ResponseTime string   `json:"response_time"`
	Status       string   `json:"status"`

	AlertName   string `json:"alertname"`
	Service     string `json:"service"`
	ServiceFrom string `json:"service_from"`
	Environment string `json:"environment,omitempty"`
	// EnvironmentFrom says how Environment was decided ("label env", "the service catalog",
	// "assumed from defaults.environment: no env or environment label"); EnvironmentAssumed that it
	// is the configured default, which the report must say rather than present as known.
	EnvironmentFrom    string `json:"environment_from,omitempty"`
	EnvironmentAssumed bool   `json:"environment_assumed,omitempty"`
	Team               string `json:"team,omitempty"`
	// Owners, Channel and Dependencies come from the service catalog.
	Owners       []string `json:"owners,omitempty"`
	Channel      string   `json:"channel,omitempty"`
	Dependencies []string `json:"dependencies,omitempty"`
	// IncidentChannel is the incident's own channel in the sink rendering the report; nil on
	// the reports stream (see IncidentChannel).
	IncidentChannel *IncidentChannel `json:"incident_channel,omitempty"`
	Summary         string           `json:"summary"`
	Description     string           `json:"description,omitempty"`
	UserImpact      string           `json:"user_impact"`
	Stack           string           `json:"stack,omitempty"`
	ArchDoc         string           `json:"architecture_doc,omitempty"`
	Impact          Impact           `json:"impact"`

	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	ReceivedAt time.Time  `json:"received_at"`
	TriagedAt  time.Time  `json:"triaged_at"`

	// Rule is the rule that decided the severity ("" when the default applied); Decisions lists
	// every rule that decided or changed it, and RuleSetVersion the rule set they came from.
	Rule           string     `json:"rule"`
	RuleSetVersion string     `json:"rule_set_version"`
	Decisions      []Decision `json:"decisions"`

	Alerts          []ReportAlert `json:"alerts"`
	GroupKey        string        `json:"group_key,omitempty"`
	TruncatedAlerts uint64        `json:"truncated_alerts"`

	RecentChanges []Change `json:"recent_changes"`
	// RecentChangesOmitted counts deploys found but left out of RecentChanges to keep the report
	// within its budget (the farthest from the alert go first).
	RecentChangesOmitted int `json:"recent_changes_omitted,omitempty"`
	// RecentChangesSummary states what the deploy lookup found in words, including that it found
	// nothing: "no deploys of checkout or its dependencies in the 2h before the alert".
	RecentChangesSummary string    `json:"recent_changes_summary,omitempty"`
	Probes               []Probe   `json:"probes"`
	Logs                 []LogTail `json:"logs"`
	Runbook              *Runbook  `json:"runbook"`
	// Metrics are what the service's Prometheus said at the opening: the alert's own expression
	// first, then the catalog's queries (see MetricEvidence).
	Metrics []MetricEvidence `json:"metrics,omitempty"`
	// MeasuredImpact is the user impact in numbers, from which UserImpact's text came, or why it
	// could not be measured.
	MeasuredImpact *MeasuredImpact `json:"measured_impact,omitempty"`
	Observations   []string        `json:"observations"`
	Links          Links           `json:"links"`
	Pending        []string        `json:"pending,omitempty"`
	// PendingWhy says, per pending section, why it was not collected.
	PendingWhy map[string]string `json:"pending_why,omitempty"`
	// RecentChangesWindowMinutes is how far before the alert the deploy lookup looked, so the
	// headline can say "no deploys in 2h"; 0 when unknown.
	RecentChangesWindowMinutes int `json:"recent_changes_window_minutes,omitempty"`
	// RecentChangesIncomplete says why RecentChanges may lack deploys of that window ("deploy
	// index saturated for checkout: 5,912 older events dropped"), so neither the headline nor
	// a reader takes an empty list for "no deploys"; "" when the lookup saw everything.
	RecentChangesIncomplete string `json:"recent_changes_incomplete,omitempty"`
	// Trimmed says, in words, what was cut or left out to keep the encoded report within its
	// budget (report.max_bytes); empty when nothing was.
	Trimmed []string `json:"trimmed,omitempty"`
}

// Impact is the workflow's impact checklist.
type Impact struct {
	ProductionDown  bool `json:"production_down"`
	FeatureDegraded bool `json:"feature_degraded"`
	DataIntegrity   bool `json:"data_integrity"`
	Security        bool `json:"security"`
}

// Decision records one rule that set or raised the severity, and why.
type Decision struct {
	Stage    string   `json:"stage"` // "classify" or "escalate"
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Reason   string   `json:"reason"`
}

// ReportAlert is a member alert of the incident as a report shows it, with what the rules
// classified it as.
type ReportAlert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"`
	Severity     Severity          `json:"severity,omitempty"`
	Rule         string            `json:"rule,omitempty"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       *time.Time        `json:"ends_at,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
}

// Change is a recent deploy or other change of the service or one it depends on.
type Change struct {
	Service       string    `json:"service"`
	Environment   string    `json:"environment,omitempty"`
	Version       string    `json:"version,omitempty"`
	Commit        string    `json:"commit,omitempty"`
	Author        string    `json:"author,omitempty"`
	URL           string    `json:"url,omitempty"`
	Status        string    `json:"status,omitempty"` // started, succeeded, failed, rolled_back
	Time          time.Time `json:"time"`
	MinutesBefore int       `json:"minutes_before"`
	Suspect       bool      `json:"suspect"`
}

// Probe is the result of one health check.
type Probe struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	Target    string  `json:"target"`
	OK        bool    `json:"ok"`
	Status    string  `json:"status,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
	Body      string  `json:"body,omitempty"`
}

// LogTail is an excerpt of one log source, already redacted.
type LogTail struct {
	Source    string   `json:"source"`
	Lines     []string `json:"lines"`
	Truncated bool     `json:"truncated"`
	// LinesOmitted counts the oldest lines of the excerpt left out to keep the report within its
	// budget.
	LinesOmitted int    `json:"lines_omitted,omitempty"`
	Error        string `json:"error,omitempty"`
}

// Runbook is the runbook matched to the incident.
type Runbook struct {
	Title string   `json:"title"`
	Path  string   `json:"path,omitempty"`
	URL   string   `json:"url,omitempty"`
	Steps []string `json:"steps,omitempty"`
	// SeverityHint is the runbook's suggested severity: shown to the reader, never deciding.
	SeverityHint Severity `json:"severity_hint,omitempty"`
	// Why says which runbook matched and why, for the reader who doubts the choice.
	Why []string `json:"why,omitempty"`
}

// Links point the reader back to the sources.
type Links struct {
	Alertmanager string `json:"alertmanager,omitempty"`
	Generator    string `json:"generator,omitempty"`
	Silence      string `json:"silence,omitempty"`
	// Omitted says why a link is missing that the report would have had (a filter built from
	// a label too long for a link); empty when none is.
	Omitted string `json:"omitted,omitempty"`
}

// Classification is what the severity rules decided for an alert.
type Classification struct {
	Severity       Severity
	Rule           string // deciding rule; "" when the default applied
	RuleSetVersion string
	Decisions      []Decision
	Impact         Impact
	UserImpact     string
	Team           string
	Runbook        string
	Labels         map[string]string
	// Dropped says a rule with `drop: true` decided: the alert is not triaged at all (counted,
	// never reported); Severity is then 0.
	Dropped bool `json:",omitempty"`
}

// EncodeReport is the report's JSON as it goes on the reports stream and into files: compact,
// and without HTML escaping, so "< 15 min" and links read as written.
func EncodeReport(rep *Report) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil {
		return nil, err
	}
	return escapeInvisible(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// escapeInvisible writes C1 control characters and Unicode's bidirectional overrides and
// isolates as \u escapes. They can only occur inside JSON strings, where the escape means the
// same; written raw, a label could make a line of a report file or a terminal read other than it
// is (a "Trojan Source" reordering, a control sequence).
func escapeInvisible(data []byte) []byte {
	invisible := func(r rune) bool {
		return r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
	}
	if !bytes.ContainsFunc(data, invisible) {
		return data
	}
	out := make([]byte, 0, len(data)+32)
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if invisible(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, data[:size]...)
		}
		data = data[size:]
	}
	return out
}

// DecodeReport reads a report back from the reports stream or a file of EncodeReport's lines.
func DecodeReport(data []byte) (*Report, error) {
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Deadlines are the workflow's Severity Response SLA as points in time.
type Deadlines struct {
	Triage   time.Time  `json:"triage"`
	Mitigate *time.Time `json:"mitigate,omitempty"` // nil where the workflow says "best effort"
	Resolve  time.Time  `json:"resolve"`
}

// EnvironmentShown is the environment as a sink shows it: marked when it was only assumed
// (defaults.environment), so the default is never presented as known; "" when unknown.
func (r Report) EnvironmentShown() string {
	if r.Environment != "" && r.EnvironmentAssumed {
		return r.Environment + " (assumed)"
	}
	return r.Environment
}
