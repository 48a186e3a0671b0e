package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// The template helpers below read the incident-response workflow's rules into a report. Each
// prefers what triage put in the report and falls back to computing it from the severity, so a
// report made before a field existed still renders, and the two can never disagree on the rule.

// headline is the report's first line: the one triage wrote, else one made the same way.
func headline(rep *triaged.Report) string {
	if rep == nil {
		return ""
	}
	return cmpOr(rep.Headline, triaged.Headline(rep))
}

// deadlines are the response SLA of rep's severity from its start, or nil when neither the
// report nor its severity and start give one.
func deadlines(rep *triaged.Report) *triaged.Deadlines {
	if rep == nil {
		return nil
	}
	if rep.Deadlines != nil {
		return rep.Deadlines
	}
	if !rep.Severity.Valid() || rep.StartedAt.IsZero() {
		return nil
	}
	d := rep.Severity.Deadlines(rep.StartedAt)
	return &d
}

// nextUpdate is when the next status update of an open incident is due.
func nextUpdate(rep *triaged.Report) *time.Time {
	if rep == nil {
		return nil
	}
	if rep.NextUpdateDue != nil {
		return rep.NextUpdateDue
	}
	if every := rep.Severity.UpdateEvery(); every > 0 && !rep.TriagedAt.IsZero() {
		t := rep.TriagedAt.Add(every)
		return &t
	}
	return nil
}

// postmortemDue is when the postmortem of a resolved incident is due, or nil when the workflow
// asks for none at its severity.
func postmortemDue(rep *triaged.Report) *time.Time {
	if rep == nil {
		return nil
	}
	if rep.PostmortemDue != nil {
		return rep.PostmortemDue
	}
	if rep.EndedAt == nil {
		return nil
	}
	if due, ok := rep.Severity.PostmortemDue(*rep.EndedAt); ok {
		return &due
	}
	return nil
}

// clock formats t for a line that already names the day: "14:29Z" on the same UTC day as ref,
// else with the date, "2026-03-21 14:29Z", so a deadline a week away cannot be misread as today.
func clock(ref time.Time, v any) string {
	t, ok := timeOf(v)
	if !ok {
		return "unknown"
	}
	t, ref = t.UTC(), ref.UTC()
	if y, m, d := t.Date(); !ref.IsZero() && y == ref.Year() && m == ref.Month() && d == ref.Day() {
		return t.Format("15:04Z")
	}
	return t.Format("2006-01-02 15:04Z")
}

func timeOf(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, !v.IsZero()
	case *time.Time:
		if v != nil {
			return *v, !v.IsZero()
		}
	}
	return time.Time{}, false
}

// before says how long before the alert a change happened: "12 min", or "< 1 min" for a change
// less than a whole minute before it (a deploy 0.8 s before the alert is not "0 min" before).
func before(c triaged.Change) string {
	if c.MinutesBefore < 1 {
		return "< 1 min"
	}
	return fmt.Sprintf("%d min", c.MinutesBefore)
}

// suspects are the changes marked suspect: the candidate causes among the recent changes.
func suspects(changes []triaged.Change) []triaged.Change {
	var out []triaged.Change
	for _, c := range changes {
		if c.Suspect {
			out = append(out, c)
		}
	}
	return out
}

// failing are the probes that failed: the candidate causes among the health checks.
func failing(probes []triaged.Probe) []triaged.Probe {
	var out []triaged.Probe
	for _, p := range probes {
		if !p.OK {
			out = append(out, p)
		}
	}
	return out
}

// first keeps at most n items: the first steps of a runbook for a status update.
func first(n int, items []string) []string {
	return items[:min(n, len(items))]
}

// impactList names the ticked items of the workflow's impact checklist, or "" when none is.
func impactList(im triaged.Impact) string {
	var out []string
	for _, it := range []struct {
		on   bool
		name string
	}{
		{im.ProductionDown, "production down"},
		{im.FeatureDegraded, "feature degraded"},
		{im.DataIntegrity, "data integrity issues"},
		{im.Security, "security concerns"},
	} {
		if it.on {
			out = append(out, it.name)
		}
	}
	return strings.Join(out, ", ")
}
