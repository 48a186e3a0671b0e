package notify

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// postmortemTemplateName names the embedded postmortem template.
const postmortemTemplateName = "postmortem.md.tmpl"

// maxMemberRows bounds the member changes in a postmortem's timeline: an incident may keep
// hundreds of members, and a timeline is read by people.
const maxMemberRows = 20

// Postmortem renders the postmortem skeleton of inc (the workflow's POSTMORTEM template) from the
// incident and its reports, oldest first: the timeline, the impact and the evidence are filled in
// by the machine; the summary, root cause, resolution, lessons and action items are left for
// the responders. The workflow asks for a postmortem at P1 and P2; this renders one at any
// severity.
func (r *Renderer) Postmortem(inc *triaged.Incident, reports []triaged.Report) ([]byte, error) {
	if inc == nil {
		return nil, errors.New("render postmortem: nil incident")
	}
	var b bytes.Buffer
	if err := r.tmpl.ExecuteTemplate(&b, postmortemTemplateName, newPostmortem(inc, reports)); err != nil {
		return nil, fmt.Errorf("render postmortem of incident %s: %w", inc.ID, err)
	}
	return b.Bytes(), nil
}

// postmortem is the dot of the postmortem template.
type postmortem struct {
	Title    string
	Incident *triaged.Incident
	// Opening is the report that opened the incident (never nil: made from the incident when no
	// report is at hand).
	Opening *triaged.Report
	// Evidence holds what the opening found, as a report, so the report template's evidence
	// blocks print it and notCollected tells what was not looked at.
	Evidence      *triaged.Report
	Severity      triaged.Severity
	Start         time.Time
	End           *time.Time
	Members       int
	Reports       int
	PostmortemDue *time.Time
	SLA           string
	Timeline      []timelineEntry
}

// timelineEntry is one row of the timeline: When is At as the table shows it.
type timelineEntry struct {
	At   time.Time
	When string
	What string
}

func newPostmortem(inc *triaged.Incident, reports []triaged.Report) *postmortem {
	reports = slices.Clone(reports)
	slices.SortStableFunc(reports, func(a, b triaged.Report) int { return a.TriagedAt.Compare(b.TriagedAt) })
	p := &postmortem{Incident: inc, Severity: inc.Severity, Members: len(inc.Members) + inc.MembersDropped, Reports: len(reports)}
	if len(reports) == 0 {
		p.Reports = len(inc.Reports)
	}
	p.Opening = opening(inc, reports)
	p.Evidence = evidence(inc, p.Opening, len(reports) > 0)

	p.Start = cmp.Or(inc.OpenedAt, p.Opening.StartedAt)
	if len(inc.Episodes) > 0 {
		p.Start = inc.Episodes[0].Start
	}
	if inc.State == triaged.IncidentResolved && inc.ResolvedAt != nil {
		p.End = inc.ResolvedAt
	}
	p.Evidence.StartedAt = p.Start
	if !p.Severity.Valid() {
		p.Severity = p.Opening.Severity
	}
	p.Title = title(inc, p.Opening)
	p.PostmortemDue, p.SLA = dueAndSLA(p, reports)
	p.Timeline = timeline(p, reports)
	return p
}

// opening is the first opened report, else the first report, else a report made of what the
// incident knows.
func opening(inc *triaged.Incident, reports []triaged.Report) *triaged.Report {
	for i := range reports {
		if reports[i].Event == triaged.EventOpened {
			return &reports[i]
		}
	}
	if len(reports) > 0 {
		return &reports[0]
	}
	return &triaged.Report{
		IncidentID: inc.ID, Severity: inc.Severity, Service: inc.Service.Name,
		Environment: inc.Service.Environment, StartedAt: inc.OpenedAt,
	}
}

// evidence is the incident's evidence, else the opening report's. With neither, every section
// is marked not collected rather than left to read as "none found".
func evidence(inc *triaged.Incident, open *triaged.Report, fromReport bool) *triaged.Report {
	if e := inc.Evidence; e != nil {
		return &triaged.Report{
			RecentChanges: e.Changes, RecentChangesSummary: e.ChangesSummary, Probes: e.Probes,
			Logs: e.Logs, Runbook: e.Runbook, Pending: e.Pending, PendingWhy: e.PendingWhy,
			Metrics: triaged.WithGraphPaths(inc.ID, e.Metrics), MeasuredImpact: e.MeasuredImpact,
		}
	}
	if fromReport {
		return &triaged.Report{
			RecentChanges: open.RecentChanges, RecentChangesSummary: open.RecentChangesSummary,
			Probes: open.Probes, Logs: open.Logs, Runbook: open.Runbook,
			Pending: open.Pending, PendingWhy: open.PendingWhy,
			Metrics: open.Metrics, MeasuredImpact: open.MeasuredImpact,
		}
	}
	why := "neither the incident nor a report of it carries the evidence of its opening"
	ev := &triaged.Report{}
	for _, s := range []string{triaged.SectionRecentChanges, triaged.SectionProbes, triaged.SectionLogs, triaged.SectionMetrics, triaged.SectionRunbook} {
		ev.Pending = append(ev.Pending, s)
	}
	ev.PendingWhy = map[string]string{}
	for _, s := range ev.Pending {
		ev.PendingWhy[s] = why
	}
	return ev
}

func title(inc *triaged.Incident, open *triaged.Report) string {
	name := open.AlertName
	if name == "" {
		name = inc.GroupLabels["alertname"]
	}
	if name == "" && len(inc.Members) > 0 {
		name = inc.Members[0].Labels["alertname"]
	}
	s := cmpOr(name, "alert") + " on " + cmpOr(cmpOr(inc.Service.Name, open.Service), "an unknown service")
	if env := cmpOr(inc.Service.Environment, open.Environment); env != "" {
		if inc.Service.EnvironmentAssumed || (inc.Service.Environment == "" && open.EnvironmentAssumed) {
			env += ", assumed"
		}
		s += " (" + env + ")"
	}
	return s
}

// dueAndSLA say when the postmortem is due and whether the resolution met the workflow's SLA.
func dueAndSLA(p *postmortem, reports []triaged.Report) (*time.Time, string) {
	var due *time.Time
	for i := len(reports) - 1; i >= 0 && due == nil; i-- {
		due = reports[i].PostmortemDue
	}
	if due == nil && p.End != nil {
		if t, ok := p.Severity.PostmortemDue(*p.End); ok {
			due = &t
		}
	}
	dl := p.Opening.Deadlines
	if dl == nil && p.Severity.Valid() {
		d := p.Severity.Deadlines(p.Start)
		dl = &d
	}
	switch {
	case p.End == nil:
		return due, "" // the template says it is not resolved yet
	case dl == nil:
		return due, "unknown: the incident has no severity"
	case p.End.After(dl.Resolve):
		return due, fmt.Sprintf("Y: resolved at %s, after the %s resolution deadline %s", utc(p.End), p.Severity, utc(dl.Resolve))
	}
	return due, fmt.Sprintf("N: resolved at %s, before the %s resolution deadline %s", utc(p.End), p.Severity, utc(dl.Resolve))
}

// timeline is what the machine saw, in time order: the deploys before the start, the episodes,
// the member alerts starting and resolving, each report with what it said, and the escalations.
func timeline(p *postmortem, reports []triaged.Report) []timelineEntry {
	inc := p.Incident
	var tl []timelineEntry
	add := func(at time.Time, what string) {
		if !at.IsZero() {
			tl = append(tl, timelineEntry{At: at, What: what})
		}
	}
	changes := slices.Clone(p.Evidence.RecentChanges)
	slices.SortStableFunc(changes, func(a, b triaged.Change) int { return a.Time.Compare(b.Time) })
	for _, c := range changes {
		add(c.Time, deployText(c))
	}
	if m := alertMetric(p.Evidence); m != nil && m.CrossedAt != nil {
		add(*m.CrossedAt, crossingText(m))
	}

	episodes := inc.Episodes
	if len(episodes) == 0 {
		episodes = []triaged.Episode{{Start: p.Start, End: p.End}}
	}
	for i, ep := range episodes {
		if i == 0 {
			add(ep.Start, "Incident started: the first alert of the group fired")
		} else {
			add(ep.Start, fmt.Sprintf("The group fired again after resolving (episode %d of %d)", i+1, len(episodes)))
		}
	}
	// After the episodes' starts and before their ends, so that at one instant the alerts
	// resolving come before "every alert resolved".
	tl = append(tl, memberRows(inc)...)
	for i, ep := range episodes {
		if ep.End != nil {
			what := "Every alert resolved"
			if i == len(episodes)-1 && inc.State == triaged.IncidentResolved {
				what += ": incident resolved"
			}
			add(*ep.End, what)
		}
	}

	seen := map[string]bool{}
	escalations := func(at time.Time, ds []triaged.Decision) {
		for _, d := range ds {
			key := d.Rule + "\x00" + d.Severity.String()
			if d.Stage != "escalate" || seen[key] {
				continue
			}
			seen[key] = true
			add(at, fmt.Sprintf("Severity raised to %s by escalate rule %s%s", d.Severity, d.Rule, prefixed(": ", d.Reason)))
		}
	}
	for _, rep := range reports {
		add(rep.TriagedAt, reportText(&rep))
		escalations(rep.TriagedAt, rep.Decisions)
	}
	if len(reports) == 0 {
		for _, ref := range inc.Reports {
			add(ref.At, fmt.Sprintf("Report %s at %s", ref.Event, ref.Severity))
		}
	}
	escalations(cmp.Or(p.Opening.TriagedAt, p.Start), inc.Decisions)

	slices.SortStableFunc(tl, func(a, b timelineEntry) int { return a.At.Compare(b.At) })
	for i := range tl {
		tl[i].When = tl[i].At.UTC().Format("15:04:05")
		if y, m, d := tl[i].At.UTC().Date(); y != p.Start.UTC().Year() || m != p.Start.UTC().Month() || d != p.Start.UTC().Day() {
			tl[i].When = tl[i].At.UTC().Format("2006-01-02 15:04:05")
		}
	}
	return tl
}

func deployText(c triaged.Change) string {
	var b strings.Builder
	b.WriteString("Deploy of " + cmpOr(c.Service, "a service"))
	if c.Environment != "" {
		b.WriteString(" (" + c.Environment + ")")
	}
	if c.Version != "" {
		b.WriteString(" " + c.Version)
	}
	if c.Commit != "" {
		b.WriteString(", commit " + c.Commit)
	}
	if c.Author != "" {
		b.WriteString(", by " + c.Author)
	}
	if c.Status != "" && c.Status != "succeeded" {
		b.WriteString(", " + strings.ReplaceAll(c.Status, "_", " "))
	}
	b.WriteString(", " + before(c) + " before the alert")
	if c.Suspect {
		b.WriteString(": suspect")
	}
	return b.String()
}

func reportText(rep *triaged.Report) string {
	changes := strings.Join(rep.Changes, "; ")
	switch {
	case rep.Event == triaged.EventOpened:
		return fmt.Sprintf("Incident declared and triaged: opened report at %s%s", rep.Severity, prefixed(": ", changes))
	case rep.Event == triaged.EventReopened:
		return fmt.Sprintf("Incident reopened at %s%s", rep.Severity, prefixed(": ", changes))
	case rep.Event == triaged.EventResolved:
		return "Resolution notification" + prefixed(": ", changes)
	case rep.Flapping:
		return "Marked flapping" + prefixed(": ", rep.FlapAdvice) + prefixed("; ", changes)
	}
	return fmt.Sprintf("Status update at %s%s", rep.Severity, prefixed(": ", changes))
}

// memberRows are the member alerts starting and resolving, grouped by time, at most
// maxMemberRows of them (the earliest) and a row saying how many more there were.
func memberRows(inc *triaged.Incident) []timelineEntry {
	type group struct {
		at       time.Time
		resolved bool
		names    []string
	}
	byKey := map[string]*group{}
	var groups []*group
	put := func(at time.Time, resolved bool, name string) {
		key := fmt.Sprint(at.UnixNano(), resolved)
		g := byKey[key]
		if g == nil {
			g = &group{at: at, resolved: resolved}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.names = append(g.names, name)
	}
	qualify := len(alertnames(inc.Members)) > 1
	for _, m := range inc.Members {
		name := memberName(&m, qualify)
		put(m.StartsAt, false, name)
		if !m.Firing() && m.EndsAt != nil {
			put(*m.EndsAt, true, name)
		}
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return a.at.Compare(b.at) })
	var rows []timelineEntry
	for i, g := range groups {
		if i == maxMemberRows {
			last := groups[len(groups)-1].at
			rows = append(rows, timelineEntry{At: last, What: fmt.Sprintf("%d more member changes until here are not shown: see the incident's members", len(groups)-maxMemberRows)})
			break
		}
		verb := "started firing"
		if g.resolved {
			verb = "resolved"
		}
		rows = append(rows, timelineEntry{At: g.at, What: fmt.Sprintf("%d %s %s: %s", len(g.names), plural(len(g.names), "alert", "alerts"), verb, names(g.names))})
	}
	return rows
}

func alertnames(ms []triaged.Member) map[string]bool {
	set := map[string]bool{}
	for _, m := range ms {
		set[m.Labels["alertname"]] = true
	}
	return set
}

// memberName names a member alert by the label that tells the members of a group apart.
func memberName(m *triaged.Member, withAlertname bool) string {
	name := m.Fingerprint
	for _, l := range []string{"instance", "pod", "host", "job"} {
		if v := m.Labels[l]; v != "" {
			name = v
			break
		}
	}
	if withAlertname {
		name = cmpOr(m.Labels["alertname"], "alert") + " " + name
	}
	return name
}

// names lists up to 5 names and counts the rest.
func names(ns []string) string {
	if len(ns) <= 5 {
		return strings.Join(ns, ", ")
	}
	return strings.Join(ns[:5], ", ") + fmt.Sprintf(" and %d more", len(ns)-5)
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// crossingText is the timeline's row of when the alert's expression crossed its threshold.
func crossingText(m *triaged.MetricEvidence) string {
	s := "The alert's expression crossed its threshold"
	if t := threshold(*m); t != "" {
		s += " (" + t + ")"
	}
	if m.Now != nil {
		s += "; " + metricValue(m.Unit, m.Now) + " when the incident opened"
	}
	return s
}
