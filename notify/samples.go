package notify

import (
	"time"

	"github.com/triaged/triaged"
)

// sampleReports are what NewRenderer executes a template against before accepting it: for every
// event (and the flapping update), a report with every field set and one whose sections are all
// pending and whose optional values are unset; and the zero report, alone and with each event.
// So the filled, the not-collected and the empty branch of each section run once in every
// event's layout.
func sampleReports() []*triaged.Report {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	end := start.Add(time.Hour)
	mitigate, next, due := start.Add(30*time.Minute), start.Add(15*time.Minute), end.Add(5*24*time.Hour)
	value := 0.5
	full := triaged.Report{
		SchemaVersion: triaged.ReportSchemaVersion, ID: "sample", IncidentID: "sample", Event: triaged.EventOpened,
		Headline: "sample", Changes: []string{"sample"}, AlertsFiring: 1, AlertsResolved: 1,
		FlapAdvice: "sample", Recurrence: "sample", OnCall: "sample", EscalationPath: []string{"sample"},
		Deadlines:     &triaged.Deadlines{Triage: start, Mitigate: &mitigate, Resolve: end},
		NextUpdateDue: &next, PostmortemDue: &due,
		Severity: triaged.P1, SeverityName: "CRITICAL", ResponseTime: "< 15 min", Status: triaged.ReportInvestigating,
		AlertName: "Sample", Service: "sample", ServiceFrom: "label service", Environment: "production",
		Team: "sample", Owners: []string{"sample"}, Channel: "sample", Dependencies: []string{"sample"}, Summary: "sample", Description: "sample", UserImpact: "sample", Stack: "Go",
		ArchDoc: "docs/sample.md", Impact: triaged.Impact{ProductionDown: true},
		StartedAt: start, EndedAt: &end, ReceivedAt: start, TriagedAt: start,
		Rule: "sample", RuleSetVersion: "1",
		Decisions: []triaged.Decision{{Stage: "classify", Rule: "sample", Severity: triaged.P1, Reason: "sample"}},
		Alerts: []triaged.ReportAlert{{
			Fingerprint: "0", Status: triaged.StatusResolved, Severity: triaged.P1, Rule: "sample",
			Labels: map[string]string{"alertname": "Sample"}, Annotations: map[string]string{"summary": "sample"},
			StartsAt: start, EndsAt: &end, GeneratorURL: "http://prometheus.example/graph",
		}},
		GroupKey: "{}:{}", TruncatedAlerts: 1,
		RecentChanges: []triaged.Change{{Service: "sample", Version: "v1", Commit: "0", Author: "sample",
			URL: "http://ci.example/1", Time: start, MinutesBefore: 1, Suspect: true}},
		RecentChangesSummary: "sample", RecentChangesWindowMinutes: 120,
		Probes:       []triaged.Probe{{Name: "sample", Kind: "http", Target: "http://sample", Status: "200", Body: "ok", Error: "e"}},
		Logs:         []triaged.LogTail{{Source: "sample", Lines: []string{"line"}, Truncated: true, Error: "e"}},
		Runbook:      &triaged.Runbook{Title: "sample", Path: "sample.md", URL: "http://wiki.example/sample", Steps: []string{"step"}},
		Observations: []string{"sample"},
		Links:        triaged.Links{Alertmanager: "http://am.example", Generator: "http://prometheus.example", Silence: "http://am.example/silence"},
		Metrics:      sampleMetrics(start, end),
		MeasuredImpact: &triaged.MeasuredImpact{Text: "sample", FailingRatio: &value, RequestRate: &value, Affected: &value,
			Queries: []string{"sample"}},
	}
	full.IncidentChannel = &triaged.IncidentChannel{Name: "#sample", URL: "https://chat.example/sample"}
	pending := full
	pending.IncidentChannel = &triaged.IncidentChannel{Unavailable: "sample"}
	// A failed query and an alert expression with nothing set, so a template's unguarded
	// {{.CrossedAt.Hour}} fails at load.
	pending.Metrics, pending.MeasuredImpact = full.Metrics[2:], &triaged.MeasuredImpact{Why: "sample"}
	pending.Deadlines, pending.NextUpdateDue, pending.PostmortemDue, pending.EndedAt, pending.Runbook = nil, nil, nil, nil, nil
	pending.Pending = []string{"recent_changes", "probes", "logs", "runbook", "observations", triaged.SectionMetrics, "sample"}

	var out []*triaged.Report
	for _, variant := range []struct {
		event    triaged.Event
		flapping bool
	}{
		{triaged.EventOpened, false}, {triaged.EventReopened, false}, {triaged.EventUpdated, false},
		{triaged.EventUpdated, true}, {triaged.EventResolved, false},
	} {
		for _, base := range []triaged.Report{full, pending, {}} {
			rep := base
			rep.Event, rep.Flapping = variant.event, variant.flapping
			out = append(out, &rep)
		}
	}
	return append(out, &triaged.Report{})
}

// samplePostmortem is an incident and its reports that NewRenderer renders the postmortem of.
type samplePostmortem struct {
	inc     *triaged.Incident
	reports []triaged.Report
}

// samplePostmortems are a resolved incident with every field set and its sample reports, one
// with evidence but no reports, and the zero incident, so that each branch of the postmortem
// template (and of the report blocks it uses) runs.
func samplePostmortems() []samplePostmortem {
	reps := sampleReports()
	start := reps[0].StartedAt
	end := start.Add(time.Hour)
	inc := &triaged.Incident{
		ID: "sample", Key: "sample", Receiver: "sample", GroupKey: "{}:{}", GroupLabels: map[string]string{"alertname": "Sample"},
		State: triaged.IncidentResolved, Severity: triaged.P1, Service: triaged.Service{Name: "sample", Environment: "production"},
		Decisions: []triaged.Decision{{Stage: "escalate", Rule: "sample", Severity: triaged.P1, Reason: "sample"}},
		OpenedAt:  start, ResolvedAt: &end, UpdatedAt: end,
		Members: []triaged.Member{{Fingerprint: "0", Status: triaged.StatusResolved, Labels: map[string]string{"alertname": "Sample", "instance": "a"},
			StartsAt: start, EndsAt: &end, Severity: triaged.P1, Rule: "sample"}},
		Episodes: []triaged.Episode{{Start: start, End: &end}},
		Reports:  []triaged.ReportRef{{ID: "sample", Event: triaged.EventOpened, Severity: triaged.P1, At: start}},
		Evidence: &triaged.Enrichment{
			Changes: reps[0].RecentChanges, ChangesSummary: "sample", Probes: reps[0].Probes, Logs: reps[0].Logs,
			Pending: []string{"sample"}, PendingWhy: map[string]string{"sample": "sample"},
		},
	}
	var all []triaged.Report
	for _, r := range reps {
		all = append(all, *r)
	}
	bare := *inc
	bare.Evidence, bare.Episodes, bare.State, bare.ResolvedAt = nil, nil, triaged.IncidentOpen, nil
	return []samplePostmortem{{inc, all}, {inc, nil}, {&bare, nil}, {&triaged.Incident{}, nil}}
}

// sampleMetrics are the alert's expression and a catalog query with every field set, and a
// query that failed, so that each branch of the Metrics section runs.
func sampleMetrics(start, end time.Time) []triaged.MetricEvidence {
	v := 0.5
	full := triaged.MetricEvidence{
		Name: triaged.AlertExpressionMetric, Query: "sample", Expr: "sample > 0.1", Unit: "ratio", At: start,
		Now: &v, Before: &v, BeforeOffsetMinutes: 60, ChangePercent: &v, Trend: "rising", Sparkline: "▁▅█",
		WindowStart: start, WindowEnd: end, Series: 2, SeriesLabels: map[string]string{"instance": "sample"},
		Threshold: &v, Comparison: ">", CrossedAt: &start, HasGraph: true, Graph: "/api/v1/incidents/sample/graphs/alert.png",
	}
	query := full
	query.Name, query.Expr, query.Unit, query.Threshold, query.Comparison, query.CrossedAt = "sample", "", "req/s", nil, "", nil
	query.Graph = "/api/v1/incidents/sample/graphs/sample.png"
	failed := triaged.MetricEvidence{Name: "failed", Query: "sample", At: start, Error: "sample"}
	bare := triaged.MetricEvidence{Name: triaged.AlertExpressionMetric}
	return []triaged.MetricEvidence{full, query, failed, bare} // the last two: the pending sample's
}
