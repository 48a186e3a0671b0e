package triage

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/triaged/triaged"
)

// changeNotes says what changed in words: "2 more alerts joined (api-3, api-4)", "1 of 3
// recovered, 2 still firing".
func changeNotes(inc *triaged.Incident, joined, recovered, refired []string, raised *triaged.Member) []string {
	var notes []string
	firing := 0
	for i := range inc.Members {
		if inc.Members[i].Firing() {
			firing++
		}
	}
	if n := len(joined); n > 0 {
		notes = append(notes, fmt.Sprintf("%d more %s joined (%s)", n, plural(n, "alert", "alerts"), names(inc, joined)))
	}
	if n := len(refired); n > 0 {
		notes = append(notes, fmt.Sprintf("%d %s fired again (%s)", n, plural(n, "alert", "alerts"), names(inc, refired)))
	}
	if n := len(recovered); n > 0 {
		total := len(inc.Members)
		if firing > 0 {
			notes = append(notes, fmt.Sprintf("%d of %d recovered (%s), %d still firing", n, total, names(inc, recovered), firing))
		} else {
			notes = append(notes, fmt.Sprintf("%d of %d recovered (%s), none still firing", n, total, names(inc, recovered)))
		}
	}
	if raised != nil {
		rule := raised.Rule
		if rule == "" {
			rule = "the default"
		}
		notes = append(notes, fmt.Sprintf("severity raised to %s by %s (rule %s)", raised.Severity, memberName(*raised), rule))
	}
	return notes
}

func updateReason(joined, recovered, refired []string, raised *triaged.Member) string {
	switch {
	case raised != nil:
		return "severity"
	case len(joined) > 0:
		return "joined"
	case len(refired) > 0:
		return "refired"
	default:
		return "recovered"
	}
}

// names lists members by the label that tells them apart, at most five.
func names(inc *triaged.Incident, fps []string) string {
	var out []string
	for _, fp := range fps {
		if len(out) == 5 {
			out = append(out, fmt.Sprintf("and %d more", len(fps)-5))
			break
		}
		i := slices.IndexFunc(inc.Members, func(m triaged.Member) bool { return m.Fingerprint == fp })
		if i >= 0 {
			out = append(out, memberName(inc.Members[i]))
		}
	}
	return strings.Join(out, ", ")
}

// memberName is the label value that names an alert among its group's: instance, pod, ...
func memberName(m triaged.Member) string {
	for _, l := range []string{"instance", "pod", "node", "service", "job", "alertname"} {
		if v := m.Labels[l]; v != "" {
			return truncate(v, 60)
		}
	}
	return m.Fingerprint
}

// flapNote measures the flapping and suggests how the alerting rule can ride it out.
func flapNote(p Policy, inc *triaged.Incident) string {
	var starts []time.Time
	var gaps []time.Duration
	eps := inc.Episodes
	for i, e := range eps {
		if eps[len(eps)-1].Start.Sub(e.Start) > p.FlapWindow {
			continue
		}
		starts = append(starts, e.Start)
		if i > 0 && eps[i-1].End != nil {
			gaps = append(gaps, e.Start.Sub(*eps[i-1].End))
		}
	}
	var periods []time.Duration
	for i := 1; i < len(starts); i++ {
		periods = append(periods, starts[i].Sub(starts[i-1]))
	}
	note := fmt.Sprintf("flapping: fired %d times within %s", len(starts), roundDuration(p.FlapWindow))
	if len(periods) > 0 {
		note += fmt.Sprintf(", about every %s", roundDuration(median(periods)))
	}
	if len(gaps) > 0 {
		keep := slices.Max(gaps) * 2
		note += fmt.Sprintf("; reports of each edge are suppressed until it is stable for %s. Consider `keep_firing_for: %s` (twice the longest resolved gap seen) or a longer `for:` on the alerting rule", roundDuration(p.FlapStable), roundUp(keep))
	} else {
		note += fmt.Sprintf("; reports of each edge are suppressed until it is stable for %s", roundDuration(p.FlapStable))
	}
	return note
}

// lateEvidence is the change that what enrichment found after the opening went out makes to
// incident id: an update that says what it found, if the incident is still open.
func lateEvidence(id string, enr triaged.Enrichment) func(*triaged.Incident) (*triaged.Incident, step) {
	return func(prev *triaged.Incident) (*triaged.Incident, step) {
		if prev == nil || prev.ID != id || prev.State != triaged.IncidentOpen {
			return prev, step{skip: skipUnchanged}
		}
		notes := evidenceNotes(prev.Evidence, &enr)
		if len(notes) == 0 {
			return prev, step{skip: skipUnchanged}
		}
		inc := clone(prev)
		inc.Evidence = &enr
		return inc, step{event: triaged.EventUpdated, reason: "enrichment", notes: notes}
	}
}

// evidenceNotes says what enrichment found since before: probes and log sources that were still
// running, recent changes and a runbook that were not there.
func evidenceNotes(before, now *triaged.Enrichment) []string {
	var notes []string
	was := func(name string, probes bool) bool {
		if before == nil {
			return false
		}
		if probes {
			for _, p := range before.Probes {
				if p.Name == name && !strings.Contains(p.Error, "still running at the deadline") {
					return true
				}
			}
			return false
		}
		for _, l := range before.Logs {
			if l.Source == name && !strings.Contains(l.Error, "still running at the deadline") {
				return true
			}
		}
		return false
	}
	for _, p := range now.Probes {
		if was(p.Name, true) {
			continue
		}
		if p.OK {
			notes = append(notes, fmt.Sprintf("probe %s answered after the opening: ok in %.0f ms", p.Name, p.LatencyMS))
		} else {
			notes = append(notes, fmt.Sprintf("probe %s answered after the opening: FAILED: %s", p.Name, p.Error))
		}
	}
	for _, l := range now.Logs {
		if !was(l.Source, false) {
			notes = append(notes, fmt.Sprintf("logs of %s read after the opening: %d %s", l.Source, len(l.Lines), plural(len(l.Lines), "line", "lines")))
		}
	}
	if now.ChangesSummary != "" && (before == nil || before.ChangesSummary == "") {
		notes = append(notes, "recent changes looked up after the opening: "+now.ChangesSummary)
	}
	if now.Runbook != nil && (before == nil || before.Runbook == nil) {
		notes = append(notes, "runbook found after the opening: "+now.Runbook.Title)
	}
	return notes
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return d.Round(time.Minute).String()
	}
}

// roundUp rounds d up to a whole minute (at least 1m), written as Prometheus writes durations.
func roundUp(d time.Duration) string {
	m := (d + time.Minute - 1) / time.Minute
	return fmt.Sprintf("%dm", max(m, 1))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// truncate cuts s to at most n bytes, at a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
