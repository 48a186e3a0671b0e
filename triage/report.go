package triage

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// maxReportAlerts bounds the member alerts a report lists, so every report fits its budget
// whatever the size of the group; the rest are counted in AlertsOmitted.
const maxReportAlerts = 50

// BuildReport fills the report of an incident's event: the incident and its members, its most
// severe alert a (with the group context), the service svc it is about, what the rules decided
// (cls, with the incident's severity), what enrichment found at the opening (enr), and what
// changed since the previous report (changes). It is pure: the same inputs give the same report.
func BuildReport(inc *triaged.Incident, a *triaged.Alert, svc triaged.Service, cls triaged.Classification, enr triaged.Enrichment, event triaged.Event, changes []string, now time.Time) *triaged.Report {
	rep := &triaged.Report{
		SchemaVersion:        triaged.ReportSchemaVersion,
		IncidentID:           inc.ID,
		Event:                event,
		Changes:              changes,
		Severity:             cls.Severity,
		SeverityName:         cls.Severity.Name(),
		ResponseTime:         cls.Severity.ResponseTimeText(),
		Status:               triaged.ReportInvestigating,
		AlertName:            cmp.Or(inc.GroupLabels["alertname"], a.Name()),
		Service:              svc.Name,
		ServiceFrom:          svc.From,
		Environment:          svc.Environment,
		EnvironmentFrom:      svc.EnvironmentFrom,
		EnvironmentAssumed:   svc.EnvironmentAssumed,
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
		StartedAt:            inc.OpenedAt.UTC(),
		ReceivedAt:           a.ReceivedAt.UTC(),
		TriagedAt:            now.UTC(),
		Rule:                 cls.Rule,
		RuleSetVersion:       cls.RuleSetVersion,
		Decisions:            cls.Decisions,
		GroupKey:             inc.GroupKey,
		TruncatedAlerts:      a.Group.TruncatedAlerts,
		Flapping:             inc.Flapping,
		RecentChanges:        nonNil(enr.Changes[:min(len(enr.Changes), triaged.MaxReportChanges)]),
		RecentChangesSummary: enr.ChangesSummary,
		Probes:               nonNil(enr.Probes),
		Logs:                 nonNil(enr.Logs),
		Runbook:              enr.Runbook,
		Links:                links(inc, a),
		Pending:              append([]string(nil), enr.Pending...),
		PendingWhy:           enr.PendingWhy,
	}
	rep.RecentChangesOmitted = len(enr.Changes) - len(rep.RecentChanges) + enr.ChangesOmitted
	rep.ID = fmt.Sprintf("%s.%d.%s", inc.ID, inc.Seq, event)
	rep.Alerts, rep.AlertsFiring, rep.AlertsResolved, rep.AlertsOmitted = reportAlerts(inc)
	if rep.UserImpact == "" {
		rep.UserImpact = a.Annotations["impact"]
	}
	rep.Metrics, rep.MeasuredImpact = triaged.WithGraphPaths(inc.ID, enr.Metrics), enr.MeasuredImpact
	rep.UserImpact = userImpact(rep.UserImpact, enr.MeasuredImpact, event)
	if inc.State == triaged.IncidentResolved {
		rep.Status = triaged.ReportResolved
		if inc.ResolvedAt != nil {
			rep.EndedAt = at(inc.ResolvedAt.UTC())
		}
	}
	if inc.Flapping {
		for _, c := range changes {
			if strings.HasPrefix(c, "flapping: ") {
				rep.FlapAdvice = strings.TrimPrefix(c, "flapping: ")
			}
		}
	}
	if event == triaged.EventOpened || event == triaged.EventReopened {
		rep.Recurrence = recurrence(inc, now)
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
	rep.Observations = nonNil(append(observations(inc, a, cls), enr.Observations...))
	rep.OnCall = svc.OnCall
	rep.RecentChangesWindowMinutes = int(enr.ChangesWindow / time.Minute)
	rep.RecentChangesIncomplete = enr.ChangesIncomplete
	if rep.Severity.Valid() {
		d := rep.Severity.Deadlines(rep.StartedAt)
		rep.Deadlines = &d
		if rep.EndedAt == nil {
			rep.NextUpdateDue = at(rep.TriagedAt.Add(rep.Severity.UpdateEvery()))
		} else if due, ok := rep.Severity.PostmortemDue(*rep.EndedAt); ok {
			rep.PostmortemDue = &due
		}
	}
	rep.Headline = triaged.Headline(rep)
	return rep
}

// reportAlerts lists the members, firing first and most severe first, at most maxReportAlerts.
func reportAlerts(inc *triaged.Incident) (list []triaged.ReportAlert, firing, resolved, omitted int) {
	ms := slices.Clone(inc.Members)
	slices.SortStableFunc(ms, func(x, y triaged.Member) int {
		if x.Firing() != y.Firing() {
			if x.Firing() {
				return -1
			}
			return 1
		}
		return cmp.Compare(x.Severity, y.Severity)
	})
	list = make([]triaged.ReportAlert, 0, min(len(ms), maxReportAlerts))
	for _, m := range ms {
		if m.Firing() {
			firing++
		} else {
			resolved++
		}
		if len(list) == maxReportAlerts {
			omitted++
			continue
		}
		list = append(list, triaged.ReportAlert{
			Fingerprint: m.Fingerprint, Status: m.Status, Severity: m.Severity, Rule: m.Rule,
			Labels: m.Labels, Annotations: m.Annotations, StartsAt: m.StartsAt, EndsAt: m.EndsAt,
			GeneratorURL: safeURL(m.GeneratorURL),
		})
	}
	return list, firing, resolved, omitted + inc.MembersDropped
}

// recurrence says how often the group fired before this episode, from the episodes kept with
// the incident.
func recurrence(inc *triaged.Incident, now time.Time) string {
	const source = "triaged's incident history of this group"
	var durations []time.Duration
	var lastEnd time.Time
	n := 0
	eps := inc.Episodes[:max(len(inc.Episodes)-1, 0)] // the current episode is not a recurrence
	for _, e := range eps {
		if now.Sub(e.Start) > 24*time.Hour || e.End == nil {
			continue
		}
		n++
		durations = append(durations, e.End.Sub(e.Start))
		if e.End.After(lastEnd) {
			lastEnd = *e.End
		}
	}
	if n == 0 {
		return fmt.Sprintf("not fired in the last 24 h before this (%s, up to %d episodes)", source, triaged.MaxEpisodes)
	}
	return fmt.Sprintf("fired %d %s in the last 24 h before this (median duration %s, last resolved %s ago; %s)",
		n, plural(n, "time", "times"), roundDuration(median(durations)), roundDuration(now.Sub(lastEnd)), source)
}

// nonNil keeps empty sections as [] in the JSON: "collected, nothing found" is not "absent".
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
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

func runbookFromAlert(a *triaged.Alert, cls triaged.Classification) *triaged.Runbook {
	if u := safeURL(cls.Runbook); u != "" {
		return &triaged.Runbook{Title: "Runbook named by rule " + cls.Rule, URL: u}
	}
	if u := safeURL(a.Annotations["runbook_url"]); u != "" {
		return &triaged.Runbook{Title: "Runbook from the alert's runbook_url annotation", URL: u}
	}
	return nil
}

// observations are the findings about the incident itself; the severity decision has its own
// section and is not repeated here.
func observations(inc *triaged.Incident, a *triaged.Alert, cls triaged.Classification) []string {
	var obs []string
	if cls.Labels[MonitoringPipelineLabel] == "true" {
		obs = append(obs, "The monitoring pipeline itself is impaired: other alerts may be missing, so silence elsewhere is no all-clear")
	}
	if n := len(inc.Members) + inc.MembersDropped; n > 1 {
		obs = append(obs, fmt.Sprintf("Alertmanager grouped %d alerts into this incident (group %s)", n, inc.GroupKey))
	}
	if n := inc.MembersDropped; n > 0 {
		obs = append(obs, fmt.Sprintf("%d alerts of the group are counted but not kept: an incident keeps at most %d, within what its record may hold", n, triaged.MaxMembers))
	}
	if n := trimmedMembers(inc); n > 0 {
		obs = append(obs, fmt.Sprintf("%d alerts of the group are kept without their annotations and generator URL, to keep the incident's record within what NATS stores", n))
	}
	if t := a.Group.TruncatedAlerts; t > 0 {
		obs = append(obs, fmt.Sprintf("Alertmanager left %d alerts of this group out of the webhook (receiver max_alerts): they were not triaged", t))
	}
	return obs
}

// MonitoringPipelineLabel is the classification label a rule sets to "true" on alerts about the
// monitoring pipeline itself (Prometheus cannot reach Alertmanager, notifications or rule
// evaluation failing); the report then says that other alerts may be missing. The built-in rules
// set it.
const MonitoringPipelineLabel = "other_alerts_may_be_missing"

func trimmedMembers(inc *triaged.Incident) int {
	n := 0
	for i := range inc.Members {
		if inc.Members[i].Trimmed {
			n++
		}
	}
	return n
}

// links point back to Alertmanager: its view of the group, and a silence of the group (by its
// group labels, not one alert's). Alert fields are untrusted, so only http(s) URLs survive.
func links(inc *triaged.Incident, a *triaged.Alert) triaged.Links {
	l := triaged.Links{Generator: safeURL(a.GeneratorURL)}
	base := strings.TrimRight(safeURL(cmp.Or(inc.ExternalURL, a.Group.ExternalURL)), "/")
	if base == "" {
		return l
	}
	// With no group labels (Alertmanager's group_by: [...] or none), the group is too wide to
	// silence as a whole: the silence form is prefilled with the most severe alert's labels.
	set := inc.GroupLabels
	if len(set) == 0 {
		set = a.Labels
	}
	// A value as long as a member keeps may have been cut: a filter of it would match nothing.
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if wasCut(set[k]) || wasCut(k) || len(k) >= maxMemberNameBytes {
			l.Omitted = fmt.Sprintf("no Alertmanager or silence link: label %s is too long for a filter (%d bytes or more)", truncate(k, 64), maxMemberValueBytes)
			return l
		}
	}
	filter := url.QueryEscape(matchers(set))
	l.Alertmanager = base + "/#/alerts?receiver=" + url.QueryEscape(inc.Receiver) + "&filter=" + filter
	l.Silence = base + "/#/silences/new?filter=" + filter
	if n := max(len(l.Alertmanager), len(l.Silence)); n > maxLinkBytes {
		l.Alertmanager, l.Silence = "", ""
		l.Omitted = fmt.Sprintf("no Alertmanager or silence link: the filter of %d labels makes a link of %d bytes, over the %d a link may take", len(set), n, maxLinkBytes)
	}
	return l
}

// maxLinkBytes bounds one link of a report: longer, it is no use to a browser and a burden on
// the report budget.
const maxLinkBytes = 8 << 10

// matchers writes a label set as Alertmanager's filter: {a="1",b="2"}, sorted.
func matchers(set map[string]string) string {
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, k := range names {
		out = append(out, fmt.Sprintf("%s=%q", k, set[k]))
	}
	return "{" + strings.Join(out, ",") + "}"
}

func safeURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

// representative is the incident's most severe firing alert (else its most severe alert), with
// the group context: what a report is written about and what enrichment looks at.
func representative(inc *triaged.Incident) *triaged.Alert {
	best := -1
	for i, m := range inc.Members {
		if best < 0 || m.Firing() && !inc.Members[best].Firing() ||
			m.Firing() == inc.Members[best].Firing() && m.Severity.Valid() && (!inc.Members[best].Severity.Valid() || m.Severity < inc.Members[best].Severity) {
			best = i
		}
	}
	a := &triaged.Alert{Group: triaged.Group{Receiver: inc.Receiver, Key: inc.GroupKey, Labels: inc.GroupLabels, ExternalURL: inc.ExternalURL, Size: len(inc.Members)}}
	if best >= 0 {
		m := inc.Members[best]
		a.Status, a.Labels, a.Annotations, a.StartsAt, a.GeneratorURL, a.Fingerprint = m.Status, m.Labels, m.Annotations, m.StartsAt, m.GeneratorURL, m.Fingerprint
		if m.EndsAt != nil {
			a.EndsAt = *m.EndsAt
		}
	}
	return a
}
