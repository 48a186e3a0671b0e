package triage

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// BuildReport fills the incident report for one alert about service svc from what the alert
// says, what the rules decided and what enrichment found. It is pure: the same inputs give the
// same report.
func BuildReport(a *triaged.Alert, svc triaged.Service, cls triaged.Classification, enr triaged.Enrichment, event triaged.Event, now time.Time) *triaged.Report {
	rep := &triaged.Report{
		SchemaVersion:        triaged.ReportSchemaVersion,
		IncidentID:           a.IncidentID(),
		Event:                event,
		Severity:             cls.Severity,
		SeverityName:         cls.Severity.Name(),
		ResponseTime:         cls.Severity.ResponseTimeText(),
		Status:               triaged.ReportInvestigating,
		AlertName:            a.Name(),
		Service:              svc.Name,
		ServiceFrom:          svc.From,
		Environment:          svc.Environment,
		Team:                 cmp.Or(cls.Team, svc.Team, a.Labels["team"]),
		Owners:               svc.Owners,
		Channel:              svc.Channel,
		Dependencies:         svc.Dependencies,
		Stack:                svc.Stack,
		ArchDoc:              svc.ArchitectureDoc,
		Summary:              summary(a),
		Description:          a.Annotations["description"],
		UserImpact:           cls.UserImpact,
		Impact:               cls.Impact,
		StartedAt:            a.StartsAt.UTC(),
		ReceivedAt:           a.ReceivedAt.UTC(),
		TriagedAt:            now.UTC(),
		Rule:                 cls.Rule,
		RuleSetVersion:       cls.RuleSetVersion,
		Decisions:            cls.Decisions,
		Alerts:               []triaged.ReportAlert{reportAlert(a)},
		GroupKey:             a.Group.Key,
		TruncatedAlerts:      a.Group.TruncatedAlerts,
		RecentChanges:        nonNil(enr.Changes),
		RecentChangesSummary: enr.ChangesSummary,
		Probes:               nonNil(enr.Probes),
		Logs:                 nonNil(enr.Logs),
		Runbook:              enr.Runbook,
		Links:                links(a),
		Pending:              append([]string(nil), enr.Pending...),
		PendingWhy:           enr.PendingWhy,
	}
	rep.ID = reportID(rep)
	if rep.UserImpact == "" {
		rep.UserImpact = "Unknown: no rule or annotation states it yet"
		if v := a.Annotations["impact"]; v != "" {
			rep.UserImpact = v
		}
	}
	if a.Resolved() {
		rep.Status = triaged.ReportResolved
		if !a.EndsAt.IsZero() {
			end := a.EndsAt.UTC()
			rep.EndedAt = &end
		}
	}
	if rb := runbookFromAlert(a, cls); rb != nil {
		// The rule's or the alert's own runbook is the most specific one: link it, and still
		// carry the first steps of the library runbook that matched.
		if lib := enr.Runbook; lib != nil {
			rb.Path, rb.Steps, rb.SeverityHint = lib.Path, lib.Steps, lib.SeverityHint
			rb.Why = append([]string{fmt.Sprintf("first steps from the library runbook %q", lib.Title)}, lib.Why...)
		}
		rep.Runbook = rb
	}
	if rep.Runbook == nil && !slices.Contains(rep.Pending, triaged.SectionRunbook) {
		rep.Pending = append(rep.Pending, triaged.SectionRunbook)
	}
	rep.Observations = append(observations(a, cls), enr.Observations...)
	return rep
}

// nonNil keeps empty sections as [] in the JSON: "collected, nothing found" is not "absent".
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// reportID is stable across redeliveries of the same alert message, so JetStream's
// deduplication drops a report published twice after a crash.
func reportID(rep *triaged.Report) string {
	id := rep.IncidentID + "." + string(rep.Event)
	if rep.Event == triaged.EventUpdated {
		id += "." + rep.Severity.String()
	}
	return id
}

func summary(a *triaged.Alert) string {
	for _, k := range []string{"summary", "message", "description"} {
		if v := strings.TrimSpace(a.Annotations[k]); v != "" {
			first, _, _ := strings.Cut(v, "\n")
			return first
		}
	}
	return a.Name() + " " + a.Status + " (no summary annotation)"
}

func reportAlert(a *triaged.Alert) triaged.ReportAlert {
	ra := triaged.ReportAlert{
		Fingerprint:  a.ID(),
		Status:       a.Status,
		Labels:       a.Labels,
		Annotations:  a.Annotations,
		StartsAt:     a.StartsAt.UTC(),
		GeneratorURL: safeURL(a.GeneratorURL),
	}
	if a.Resolved() && !a.EndsAt.IsZero() {
		end := a.EndsAt.UTC()
		ra.EndsAt = &end
	}
	return ra
}

func runbookFromAlert(a *triaged.Alert, cls triaged.Classification) *triaged.Runbook {
	if u := safeURL(cls.Runbook); u != "" {
		return &triaged.Runbook{Title: "Runbook named by rule " + cls.Rule, URL: u}
	}
	if u := safeURL(a.Annotations["runbook_url"]); u != "" {
		return &triaged.Runbook{Title: "Runbook from the alert's runbook_url annotation", URL: u}
	}
	return nil
}

func observations(a *triaged.Alert, cls triaged.Classification) []string {
	var obs []string
	for _, d := range cls.Decisions {
		obs = append(obs, fmt.Sprintf("Severity %s by %s rule %q: %s", d.Severity, d.Stage, d.Rule, d.Reason))
	}
	if cls.Rule == "" {
		obs = append(obs, fmt.Sprintf("Severity %s is the rule set's default: no rule matched", cls.Severity))
	}
	if n := a.Group.Size; n > 1 {
		obs = append(obs, fmt.Sprintf("Alertmanager sent this alert in a group of %d alerts (group %s)", n, a.Group.Key))
	}
	if t := a.Group.TruncatedAlerts; t > 0 {
		obs = append(obs, fmt.Sprintf("Alertmanager left %d alerts of this group out of the webhook (receiver max_alerts): they were not triaged", t))
	}
	return obs
}

// links point back to Alertmanager. Alert fields are untrusted, so only http(s) URLs survive.
func links(a *triaged.Alert) triaged.Links {
	l := triaged.Links{Generator: safeURL(a.GeneratorURL)}
	base := strings.TrimRight(safeURL(a.Group.ExternalURL), "/")
	if base == "" {
		return l
	}
	l.Alertmanager = base + "/#/alerts?receiver=" + url.QueryEscape(a.Group.Receiver)
	names := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		names = append(names, k)
	}
	sort.Strings(names)
	matchers := make([]string, 0, len(names))
	for _, k := range names {
		matchers = append(matchers, fmt.Sprintf("%s=%q", k, a.Labels[k]))
	}
	l.Silence = base + "/#/silences/new?filter=" + url.QueryEscape("{"+strings.Join(matchers, ",")+"}")
	return l
}

func safeURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}
