package triaged

import (
	"fmt"
	"strings"
	"time"
)

// Severity is an incident's priority, P1 (most urgent) to P4, as the incident-response workflow
// defines it. The zero value is not a severity, so a forgotten assignment cannot pass for P1.
type Severity int

// The four levels of the incident-response workflow.
const (
	P1 Severity = iota + 1
	P2
	P3
	P4
)

// Severities lists every level, most urgent first, for tables, metrics and validation.
var Severities = []Severity{P1, P2, P3, P4}

var severityFacts = [...]struct {
	name, description string
	respond           time.Duration
}{
	P1: {"CRITICAL", "Complete outage", 15 * time.Minute},
	P2: {"HIGH", "Major degradation", time.Hour},
	P3: {"MEDIUM", "Partial degradation", 4 * time.Hour},
	P4: {"LOW", "Minor issue", 24 * time.Hour},
}

// Valid reports whether s is one of P1..P4.
func (s Severity) Valid() bool { return s >= P1 && s <= P4 }

// String returns "P1".."P4", the form used in rule files, subjects and metric labels.
func (s Severity) String() string {
	if !s.Valid() {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return fmt.Sprintf("P%d", int(s))
}

// Name is the workflow's word for the level: CRITICAL, HIGH, MEDIUM or LOW.
func (s Severity) Name() string {
	if !s.Valid() {
		return "UNKNOWN"
	}
	return severityFacts[s].name
}

// Description is the workflow's one-line definition of the level.
func (s Severity) Description() string {
	if !s.Valid() {
		return ""
	}
	return severityFacts[s].description
}

// ResponseTime is how soon a person must respond at this level.
func (s Severity) ResponseTime() time.Duration {
	if !s.Valid() {
		return 0
	}
	return severityFacts[s].respond
}

// ResponseTimeText renders ResponseTime the way the workflow writes it: "< 15 min", "< 1 hour".
func (s Severity) ResponseTimeText() string {
	d := s.ResponseTime()
	switch {
	case d == 0:
		return ""
	case d < time.Hour:
		return fmt.Sprintf("< %d min", int(d.Minutes()))
	case d == time.Hour:
		return "< 1 hour"
	default:
		return fmt.Sprintf("< %d hours", int(d.Hours()))
	}
}

// ParseSeverity accepts "P1".."P4" in either case.
func ParseSeverity(s string) (Severity, error) {
	if len(s) == 2 && (s[0] == 'P' || s[0] == 'p') && s[1] >= '1' && s[1] <= '4' {
		return Severity(s[1] - '0'), nil
	}
	return 0, fmt.Errorf("invalid severity %q: want one of P1, P2, P3, P4", s)
}

// MarshalText writes the severity as "P1".."P4".
func (s Severity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads "P1".."P4", so JSON and YAML documents can name severities as people do.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
