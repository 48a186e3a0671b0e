package broker

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/triaged/triaged"
)

// Names derives every NATS name triaged uses from one prefix, so several triaged deployments can
// share a NATS cluster and an operator can find every name in one place.
type Names struct {
	prefix string // subject form: lower case, e.g. "triaged"
	upper  string // stream form: upper case, e.g. "TRIAGED"
}

var validPrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// ValidPrefix says why prefix cannot be a NATS prefix, or nil if it can: it becomes a subject
// token, a stream name, a consumer name and a KV bucket name, so only letters, digits, '_' and
// '-' are allowed, starting with a letter. The config checks nats.prefix with it.
func ValidPrefix(prefix string) error {
	if !validPrefix.MatchString(prefix) {
		return fmt.Errorf("%q is not a valid prefix: want a letter followed by letters, digits, '_' or '-'", prefix)
	}
	return nil
}

// NewNames derives the names of prefix, which must be valid (see ValidPrefix).
func NewNames(prefix string) (Names, error) {
	if err := ValidPrefix(prefix); err != nil {
		return Names{}, fmt.Errorf("NATS names: %w", err)
	}
	return Names{prefix: strings.ToLower(prefix), upper: strings.ToUpper(strings.ReplaceAll(prefix, "-", "_"))}, nil
}

// MustNames is NewNames for prefixes known to be valid, such as the default.
func MustNames(prefix string) Names {
	n, err := NewNames(prefix)
	if err != nil {
		panic(err)
	}
	return n
}

// Prefix is the subject prefix.
func (n Names) Prefix() string { return n.prefix }

// AlertsStream holds one message per alert, written by ingest and read by triage.
func (n Names) AlertsStream() string { return n.upper + "_ALERTS" }

// AlertSubject is the subject of an alert message: PREFIX.alerts.<status>.
func (n Names) AlertSubject(status string) string { return n.prefix + ".alerts." + status }

// AlertSubjects is the alerts stream's subject filter.
func (n Names) AlertSubjects() string { return n.prefix + ".alerts.>" }

// TriageConsumer is the durable pull consumer every replica's worker pool shares.
func (n Names) TriageConsumer() string { return n.prefix + "-triage" }

// TimerSubject is the subject of an incident's timer on the alerts stream: a coalesced update or
// a flapping summary falling due.
func (n Names) TimerSubject() string { return n.AlertSubject("flush") }

// TimerConsumer is the durable pull consumer of the incident timers, shared by every replica.
func (n Names) TimerConsumer() string { return n.prefix + "-timers" }

// ReportsStream is the outbox: every report, durably, before any sink sees it.
func (n Names) ReportsStream() string { return n.upper + "_REPORTS" }

// ReportSubject is PREFIX.reports.<event>.<severity>, so a subscriber can take only, say,
// P1 openings: PREFIX.reports.opened.P1.
func (n Names) ReportSubject(event triaged.Event, sev triaged.Severity) string {
	return n.prefix + ".reports." + string(event) + "." + sev.String()
}

// ReportSubjects is the reports stream's subject filter.
func (n Names) ReportSubjects() string { return n.prefix + ".reports.>" }

// SinkConsumer is the durable consumer of the reports stream that feeds one sink.
func (n Names) SinkConsumer(sink string) string { return n.prefix + "-sink-" + sink }

// IncidentsBucket is the KV bucket of incident state, keyed by alert fingerprint.
func (n Names) IncidentsBucket() string { return n.upper + "_INCIDENTS" }

// HistoryStream keeps the alerts as triage handled them, for backtests of candidate rules.
func (n Names) HistoryStream() string { return n.upper + "_HISTORY" }

// HistorySubject is the subject of a history record of a kind: PREFIX.history.<kind>.
func (n Names) HistorySubject(kind string) string { return n.prefix + ".history." + kind }

// HistorySubjects is the history stream's subject filter.
func (n Names) HistorySubjects() string { return n.prefix + ".history.>" }

// DeliveriesBucket is the KV bucket of what each sink delivered of each incident: its thread
// and the reports already delivered, keyed by sink and incident.
func (n Names) DeliveriesBucket() string { return n.upper + "_DELIVERIES" }

// GraphsBucket is the KV bucket of the incidents' PNG graphs, keyed "<incident id>.<graph name>"
// (triaged.GraphKey).
func (n Names) GraphsBucket() string { return n.upper + "_GRAPHS" }

// DeploysStream holds deploy events from CI/CD, kept for the correlation window and more.
func (n Names) DeploysStream() string { return n.upper + "_DEPLOYS" }

// DeploySubject is PREFIX.deploys.<service>: CI jobs may publish deploy events on it directly.
// The service must be a valid subject token (no '.', '*', '>' or spaces).
func (n Names) DeploySubject(service string) string { return n.prefix + ".deploys." + service }

// DeploySubjects is the deploys stream's subject filter.
func (n Names) DeploySubjects() string { return n.prefix + ".deploys.>" }

// DeadLettersStream holds the messages a consumer gave up on, each with its reason, until
// replayed or aged out.
func (n Names) DeadLettersStream() string { return n.upper + "_DEADLETTERS" }

// DeadLetterSubject is PREFIX.deadletters.<consumer>: the consumer that gave up on the message.
func (n Names) DeadLetterSubject(consumer string) string {
	return n.prefix + ".deadletters." + consumer
}

// DeadLetterSubjects is the dead-letters stream's subject filter.
func (n Names) DeadLetterSubjects() string { return n.prefix + ".deadletters.>" }
