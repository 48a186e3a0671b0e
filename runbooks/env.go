package runbooks

import (
	"cmp"

	"github.com/triaged/triaged"
)

// Input is what a runbook is matched against: one alert and what triage already knows about it
// (the service the catalog mapped it to and the severity the rules decided).
type Input struct {
	AlertName   string
	Status      string
	Labels      map[string]string
	Annotations map[string]string
	Service     string
	Environment string
	// Severity is the classified severity; the zero value reads as "" in match expressions.
	Severity triaged.Severity
}

// NewInput is what a runbook is matched against for an alert about service svc (decided by the
// service catalog, or the alert's labels) that the rules classified as sev (0 when not yet
// classified).
func NewInput(a *triaged.Alert, svc triaged.Service, sev triaged.Severity) Input {
	return Input{
		AlertName:   a.Name(),
		Status:      a.Status,
		Labels:      map[string]string(a.Labels),
		Annotations: map[string]string(a.Annotations),
		Service:     cmp.Or(svc.Name, triaged.UnknownService),
		Environment: svc.Environment,
		Severity:    sev,
	}
}

// Env is everything a runbook's match expression can see: its expr tags are the vocabulary, and
// nothing else (no files, no environment variables, no clock) is reachable from a runbook. The
// names are the severity rules' names for the same things, so an author writes `alertname`,
// `labels.team` or `has("instance")` the same way in both.
type Env struct {
	// AlertName is Input.AlertName, else the alertname label.
	AlertName string `expr:"alertname"`
	// Status is the alert's own status, "firing" or "resolved".
	Status string `expr:"status"`
	// Labels and Annotations are the alert's; a missing key reads as "".
	Labels      map[string]string `expr:"labels"`
	Annotations map[string]string `expr:"annotations"`
	// Service is the service the alert was mapped to ("unknown" when none); Environment its
	// environment as written (prod, production, staging ...), "" when unknown.
	Service     string `expr:"service"`
	Environment string `expr:"environment"`
	// Severity is the classified severity, "P1".."P4", or "" when none was decided yet.
	Severity string `expr:"severity"`

	// Has reports whether the alert has the label with a non-empty value (Prometheus treats an
	// empty label as an absent one).
	Has func(label string) bool `expr:"has"`
}

// newEnv builds the environment of one Match call; every runbook of the library shares it.
func newEnv(in Input) *Env {
	labels := in.Labels
	e := &Env{
		AlertName:   in.AlertName,
		Status:      in.Status,
		Labels:      labels,
		Annotations: in.Annotations,
		Service:     in.Service,
		Environment: in.Environment,
		Has:         func(label string) bool { return labels[label] != "" },
	}
	if e.AlertName == "" {
		e.AlertName = labels["alertname"]
	}
	if in.Severity.Valid() {
		e.Severity = in.Severity.String()
	}
	return e
}
