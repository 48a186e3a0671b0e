package rules

import (
	"cmp"
	"regexp"
	"time"

	"github.com/triaged/triaged"
)

// Env is everything a classification rule can see: its expr tags are the rule vocabulary, and
// nothing else (no files, no environment variables, no network) is reachable from a rule. It is
// built once per alert and shared by every rule evaluated for that alert, so its cost does not grow
// with the number of rules.
type Env struct {
	// AlertName is the alertname label.
	AlertName string `expr:"alertname"`
	// Status is the alert's own status, "firing" or "resolved" (not its group's).
	Status string `expr:"status"`
	// Labels and Annotations are the alert's; a missing key reads as "".
	Labels      map[string]string `expr:"labels"`
	Annotations map[string]string `expr:"annotations"`
	// StartsAt is when the alert started firing, in the evaluation time zone.
	StartsAt time.Time `expr:"starts_at"`
	// ActiveFor is how long the alert has been firing at evaluation time (until endsAt for a
	// resolved alert); 0 when startsAt is unknown or in the future.
	ActiveFor time.Duration `expr:"active_for"`
	// GroupLabels, CommonLabels and Receiver describe the Alertmanager notification the alert came
	// in; GroupSize is how many alerts it carried.
	GroupLabels  map[string]string `expr:"group_labels"`
	CommonLabels map[string]string `expr:"common_labels"`
	Receiver     string            `expr:"receiver"`
	GroupSize    int               `expr:"group_size"`
	// Service is the service triage mapped the alert to: the service catalog's entry, else the
	// label the `defaults.service_labels` precedence picks (also when a catalog does not know it),
	// else "unknown".
	Service string `expr:"service"`
	// Environment is the mapped service's environment from the catalog, else the first label of
	// `defaults.environment_labels` (env, environment), else the assumed `defaults.environment`,
	// else "": the one environment the report names. It is not normalised: rules say which
	// spellings they mean (environment in ["prod", "production"]).
	Environment string `expr:"environment"`
	// EnvironmentAssumed says Environment is `defaults.environment`, not a label's or the catalog's.
	EnvironmentAssumed bool `expr:"environment_assumed"`
	// Now is the evaluation time; Hour (0-23) and Weekday ("Monday".."Sunday") are taken in its
	// time zone, which the daemon configures.
	Now     time.Time `expr:"now"`
	Hour    int       `expr:"hour"`
	Weekday string    `expr:"weekday"`

	// Has reports whether the alert has the label with a non-empty value (Prometheus treats an
	// empty label as an absent one).
	Has func(label string) bool `expr:"has"`
	// BusinessHours reports whether Now falls on Monday to Friday, 09:00 to 17:00.
	BusinessHours func() bool `expr:"business_hours"`
}

// Business hours, as business_hours() sees them: Monday to Friday, from 09:00 up to 17:00.
const (
	businessHoursStart = 9
	businessHoursEnd   = 17
)

// Static helper values, so that building an Env allocates no closure for them.
var (
	inBusinessHours  = func() bool { return true }
	outBusinessHours = func() bool { return false }
)

// newEnv builds the environment of an alert about service svc, evaluated at now. Hour and weekday
// are taken in now's time zone.
func newEnv(a *triaged.Alert, svc triaged.Service, now time.Time) *Env {
	labels := map[string]string(a.Labels)
	e := &Env{
		AlertName:          labels["alertname"],
		Status:             a.Status,
		Labels:             labels,
		Annotations:        map[string]string(a.Annotations),
		GroupLabels:        map[string]string(a.Group.Labels),
		CommonLabels:       map[string]string(a.Group.CommonLabels),
		Receiver:           a.Group.Receiver,
		GroupSize:          a.Group.Size,
		Service:            cmp.Or(svc.Name, triaged.UnknownService),
		Environment:        svc.Environment,
		EnvironmentAssumed: svc.EnvironmentAssumed,
		Now:                now,
		Hour:               now.Hour(),
		Weekday:            now.Weekday().String(),
		ActiveFor:          activeFor(a, now),
		Has:                func(label string) bool { return labels[label] != "" },
	}
	if !a.StartsAt.IsZero() {
		e.StartsAt = a.StartsAt.In(now.Location())
	}
	e.BusinessHours = outBusinessHours
	if isBusinessHours(now) {
		e.BusinessHours = inBusinessHours
	}
	return e
}

func activeFor(a *triaged.Alert, now time.Time) time.Duration {
	if a.StartsAt.IsZero() {
		return 0
	}
	end := now
	if a.Status == triaged.StatusResolved && !a.EndsAt.IsZero() && a.EndsAt.Before(now) {
		end = a.EndsAt
	}
	return max(end.Sub(a.StartsAt), 0)
}

func isBusinessHours(t time.Time) bool {
	switch t.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return t.Hour() >= businessHoursStart && t.Hour() < businessHoursEnd
}

// EscalationEnv is what an escalation rule sees: the alert's Env, the severity the earlier stages
// decided, and the facts enrichment found, metrics included.
type EscalationEnv struct {
	Env
	// Severity is the current severity, "P1".."P4": the classification, raised by the escalation
	// rules before this one.
	Severity string `expr:"severity"`
	// Rule is the classification rule that decided, "" when the default applied.
	Rule string `expr:"rule"`
	// Changes are the recent changes (deploys) found for the service; SuspectDeploys those that the
	// deploy correlator marked as suspects.
	Changes        []ChangeFact `expr:"changes"`
	SuspectDeploys []ChangeFact `expr:"suspect_deploys"`
	// Probes are the health checks run; FailedProbes those that failed.
	Probes       []ProbeFact `expr:"probes"`
	FailedProbes []ProbeFact `expr:"failed_probes"`
	// Logs are the log tails read; ErrorLines are their lines that look like errors (see
	// errorLinePattern).
	Logs       []LogFact `expr:"logs"`
	ErrorLines []string  `expr:"error_lines"`

	// Metrics are what the service's Prometheus said (metrics.go): by query name, the value now,
	// the value before (the query's offset), the change in percent, of each query that gave one;
	// reading a name that gave none yields NaN, never 0, so every comparison with it is false.
	// MetricsTrend is "rising", "falling" or "steady", MetricsError why a query gave nothing.
	Metrics       MetricValues `expr:"metrics"`
	MetricsBefore MetricValues `expr:"metrics_before"`
	MetricsChange MetricValues `expr:"metrics_change"`
	MetricsTrend  MetricTexts  `expr:"metrics_trend"`
	MetricsError  MetricTexts  `expr:"metrics_error"`
	// HasMetric reports whether the query of that name gave a value now.
	HasMetric func(name string) bool `expr:"has_metric"`
	// FailingRatio (0..1), RequestRate and AffectedRPS (requests per second) are the measured user
	// impact, NaN when not measured; ImpactMeasured says FailingRatio is known.
	FailingRatio   float64 `expr:"failing_ratio"`
	RequestRate    float64 `expr:"request_rate"`
	AffectedRPS    float64 `expr:"affected_rps"`
	ImpactMeasured bool    `expr:"impact_measured"`

	// Raise returns the current severity raised by n levels, never beyond P1:
	// raise(1) is "P2" when severity is "P3".
	Raise func(levels int) string `expr:"raise"`
}

// ChangeFact is a recent change as escalation rules see it.
type ChangeFact struct {
	Service       string    `expr:"service"`
	Environment   string    `expr:"environment"`
	Version       string    `expr:"version"`
	Commit        string    `expr:"commit"`
	Author        string    `expr:"author"`
	URL           string    `expr:"url"`
	Time          time.Time `expr:"time"`
	MinutesBefore int       `expr:"minutes_before"`
	Suspect       bool      `expr:"suspect"`
}

// ProbeFact is a health check result as escalation rules see it.
type ProbeFact struct {
	Name      string  `expr:"name"`
	Kind      string  `expr:"kind"`
	Target    string  `expr:"target"`
	OK        bool    `expr:"ok"`
	Status    string  `expr:"status"`
	LatencyMS float64 `expr:"latency_ms"`
	Error     string  `expr:"error"`
}

// LogFact is a log tail as escalation rules see it.
type LogFact struct {
	Source    string   `expr:"source"`
	Lines     []string `expr:"lines"`
	Truncated bool     `expr:"truncated"`
	Error     string   `expr:"error"`
}

// errorLinePattern decides which log lines count as error_lines: the same lines a log tail keeps
// by default.
var errorLinePattern = regexp.MustCompile(triaged.ErrorLinePattern)

// newEscalationEnv builds the escalation environment once per Escalate call.
func newEscalationEnv(c triaged.Classification, a *triaged.Alert, svc triaged.Service, f triaged.Enrichment, now time.Time) *EscalationEnv {
	e := &EscalationEnv{
		Env:      *newEnv(a, svc, now),
		Severity: c.Severity.String(),
		Rule:     c.Rule,
	}
	for _, ch := range f.Changes {
		fact := ChangeFact{
			Service: ch.Service, Environment: ch.Environment, Version: ch.Version, Commit: ch.Commit,
			Author: ch.Author, URL: ch.URL, Time: ch.Time, MinutesBefore: ch.MinutesBefore,
			Suspect: ch.Suspect,
		}
		e.Changes = append(e.Changes, fact)
		if ch.Suspect {
			e.SuspectDeploys = append(e.SuspectDeploys, fact)
		}
	}
	for _, p := range f.Probes {
		fact := ProbeFact{
			Name: p.Name, Kind: p.Kind, Target: p.Target, OK: p.OK, Status: p.Status,
			LatencyMS: p.LatencyMS, Error: p.Error,
		}
		e.Probes = append(e.Probes, fact)
		if !p.OK {
			e.FailedProbes = append(e.FailedProbes, fact)
		}
	}
	for _, l := range f.Logs {
		e.Logs = append(e.Logs, LogFact{Source: l.Source, Lines: l.Lines, Truncated: l.Truncated, Error: l.Error})
		for _, line := range l.Lines {
			if errorLinePattern.MatchString(line) {
				e.ErrorLines = append(e.ErrorLines, line)
			}
		}
	}
	e.setMetrics(f)
	e.Raise = func(levels int) string { return raise(e.Severity, levels) }
	return e
}

// raise returns severity s (as "P1".."P4") made more urgent by levels, clamped to P1..P4.
func raise(s string, levels int) string {
	sev, err := triaged.ParseSeverity(s)
	if err != nil {
		return s
	}
	return clampSeverity(int(sev) - levels).String()
}

func clampSeverity(n int) triaged.Severity {
	return triaged.Severity(min(max(n, int(triaged.P1)), int(triaged.P4)))
}
