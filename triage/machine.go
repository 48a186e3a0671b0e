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

// Policy shapes incidents: the config's incidents section.
type Policy struct {
	// GroupBy keys incidents by these labels' values (with the receiver) instead of by
	// Alertmanager's group key.
	GroupBy []string
	// ReopenWindow: an incident that fires again this soon after resolving is reopened.
	ReopenWindow time.Duration
	// ResolveHold: a resolution is reported this long after every member resolved, unless the
	// incident fires again first; then it was never over, and nothing is reported.
	ResolveHold time.Duration
	// UpdateInterval: at most one updated report per incident per interval.
	UpdateInterval time.Duration
	// More than FlapThreshold firing episodes starting within FlapWindow make an incident
	// flapping; it is reported again once no edge was seen for FlapStable.
	FlapThreshold int
	FlapWindow    time.Duration
	FlapStable    time.Duration
}

// DefaultPolicy is the config's default incidents section.
func DefaultPolicy() Policy {
	return Policy{ReopenWindow: time.Hour, ResolveHold: time.Minute, UpdateInterval: 5 * time.Minute, FlapThreshold: 3, FlapWindow: 30 * time.Minute, FlapStable: 10 * time.Minute}
}

// arrival is one alert of a notification with what the rules made of it.
type arrival struct {
	alert *triaged.Alert
	cls   triaged.Classification
}

// step is what one notification (or one due flush) does to an incident.
type step struct {
	// event is the report due now, "" for none.
	event triaged.Event
	// notes say what changed, in words; for a report, every change since the previous one.
	notes []string
	// investigate: the incident (re)starts firing, so enrichment and escalation run.
	investigate bool
	// flushAt is when a coalesced update or a flapping summary falls due, nil for none.
	flushAt *time.Time
	// reason is why an updated report is made, for the updates metric.
	reason string
	// absorbed counts the alerts that changed nothing (resends).
	absorbed int
	// skip says why nothing was stored at all.
	skip string
}

// Why a notification changes nothing, the values of the skipped metric's reason label.
const (
	skipResolvedUnseen = "resolved_unseen" // a resolution of a group that has no incident
	skipUnchanged      = "unchanged"       // every alert as already known
	skipWaiting        = "waiting"         // a flush not due yet (not counted)
)

// apply applies a notification's alerts to the incident prev (nil when the group has none) at
// now, and returns the incident as it must be stored and what to report. It is pure: the same
// inputs give the same outputs, so redelivery and retries decide the same.
func (p Policy) apply(prev *triaged.Incident, g triaged.Group, in []arrival, now time.Time) (*triaged.Incident, step) {
	firing := slices.ContainsFunc(in, func(a arrival) bool { return !a.alert.Resolved() })
	if prev == nil || prev.State == triaged.IncidentResolved && prev.ResolvedAt != nil && now.Sub(*prev.ResolvedAt) > p.ReopenWindow {
		if !firing {
			return prev, step{skip: skipResolvedUnseen}
		}
		return p.open(prev, g, in, now)
	}
	inc := clone(prev)
	joined, recovered, refired, raised := upsert(inc, in)
	absorbed := len(in) - len(joined) - len(recovered) - len(refired)
	if len(joined)+len(recovered)+len(refired) == 0 {
		return prev, step{skip: skipUnchanged, absorbed: absorbed}
	}
	inc.UpdatedAt = now
	notes := changeNotes(inc, joined, recovered, refired, raised)
	st := step{absorbed: absorbed}
	anyFiring := anyFiring(inc)

	switch {
	case inc.State == triaged.IncidentResolved && anyFiring:
		held := inc.ResolutionDue != nil
		inc.State, inc.ResolvedAt, inc.ResolutionDue = triaged.IncidentOpen, nil, nil
		inc.Episodes = addEpisode(inc.Episodes, earliestFiring(in))
		p.edge(inc, now)
		if held {
			// Its resolution was never reported: to the reader it never stopped. Only the
			// flapping it may amount to is news.
			inc.Pending = nil
			if !inc.Flapping && p.flapping(inc) {
				inc.Flapping, inc.FlapEdges = true, 0
				st.event, st.reason = triaged.EventUpdated, "flapping"
				st.notes = []string{flapNote(p, inc)}
				st.flushAt = at(now.Add(p.FlapStable))
			}
			return inc, st
		}
		if !inc.Flapping && p.flapping(inc) {
			inc.Flapping, inc.FlapEdges = true, 0
			st.event, st.reason = triaged.EventUpdated, "flapping"
			st.notes = append(takePending(inc), notes...)
			st.notes = append(st.notes, flapNote(p, inc))
			st.flushAt = at(now.Add(p.FlapStable))
			return inc, st
		}
		if inc.Flapping {
			inc.FlapEdges++
			st.flushAt = at(now.Add(p.FlapStable))
			return inc, st
		}
		st.event, st.investigate = triaged.EventReopened, true
		st.notes = append(takePending(inc), notes...)
	case inc.State == triaged.IncidentOpen && !anyFiring:
		// It ended when its last alert did, by Alertmanager's endsAt.
		inc.State, inc.ResolvedAt = triaged.IncidentResolved, at(latestEnd(inc, now))
		closeEpisode(inc.Episodes, *inc.ResolvedAt)
		p.edge(inc, now)
		if inc.Flapping {
			inc.FlapEdges++
			st.flushAt = at(now.Add(p.FlapStable))
			return inc, st
		}
		if p.ResolveHold > 0 {
			addPending(inc, notes, now)
			inc.ResolutionDue = at(now.Add(p.ResolveHold))
			st.flushAt = inc.ResolutionDue
			return inc, st
		}
		st.event = triaged.EventResolved
		st.notes = append(takePending(inc), notes...)
	case inc.State == triaged.IncidentOpen:
		st.reason = updateReason(joined, recovered, refired, raised)
		if inc.Flapping || now.Sub(inc.LastReportAt) < p.UpdateInterval {
			addPending(inc, notes, now)
			st.flushAt = at(inc.LastReportAt.Add(p.UpdateInterval))
			if inc.Flapping {
				st.flushAt = at(now.Add(p.FlapStable))
			}
			return inc, st
		}
		st.event = triaged.EventUpdated
		st.notes = append(takePending(inc), notes...)
	default: // resolved, and what came changes members without making anything fire
		addPending(inc, notes, now)
	}
	return inc, st
}

func anyFiring(inc *triaged.Incident) bool {
	return slices.ContainsFunc(inc.Members, func(m triaged.Member) bool { return m.Firing() })
}

// flush is a due coalesced update or flapping summary: what to report now, if anything.
func (p Policy) flush(prev *triaged.Incident, now time.Time) (*triaged.Incident, step) {
	inc := clone(prev)
	switch {
	case inc.ResolutionDue != nil && inc.State == triaged.IncidentResolved && !inc.Flapping:
		if now.Before(*inc.ResolutionDue) {
			return prev, step{flushAt: inc.ResolutionDue}
		}
		inc.ResolutionDue = nil
		return inc, step{event: triaged.EventResolved, notes: takePending(inc)}
	case inc.Flapping:
		if inc.LastEdgeAt != nil && now.Sub(*inc.LastEdgeAt) < p.FlapStable {
			return prev, step{flushAt: at(inc.LastEdgeAt.Add(p.FlapStable))}
		}
		inc.Flapping = false
		note := fmt.Sprintf("stopped flapping: no change for %s after %d unreported %s", roundDuration(p.FlapStable), inc.FlapEdges, plural(inc.FlapEdges, "edge", "edges"))
		inc.FlapEdges = 0
		st := step{event: triaged.EventUpdated, reason: "stable", notes: append(takePending(inc), note)}
		if inc.State == triaged.IncidentResolved {
			st.event, st.reason = triaged.EventResolved, ""
		}
		return inc, st
	case len(inc.Pending) > 0 && inc.State == triaged.IncidentOpen:
		if due := inc.LastReportAt.Add(p.UpdateInterval); now.Before(due) {
			return prev, step{flushAt: &due}
		}
		return inc, step{event: triaged.EventUpdated, reason: "coalesced", notes: takePending(inc)}
	}
	return prev, step{skip: skipUnchanged}
}

// open starts a new incident for the group; prev, a resolved incident of the same group past the
// reopen window, lends it its history.
func (p Policy) open(prev *triaged.Incident, g triaged.Group, in []arrival, now time.Time) (*triaged.Incident, step) {
	start := earliestFiring(in)
	inc := &triaged.Incident{
		Key: p.key(g, in[0].alert), Receiver: g.Receiver, GroupKey: g.Key, GroupLabels: g.Labels,
		ExternalURL: g.ExternalURL, State: triaged.IncidentOpen, OpenedAt: start, UpdatedAt: now,
	}
	if prev != nil {
		inc.Episodes = slices.Clone(prev.Episodes)
	}
	inc.Episodes = addEpisode(inc.Episodes, start)
	upsert(inc, in)
	inc.ID = incidentID(inc, in)
	return inc, step{event: triaged.EventOpened, investigate: true}
}

// upsert merges the alerts into the members and returns, by fingerprint, those that joined,
// recovered or fired again, and whether a member raised the severity.
func upsert(inc *triaged.Incident, in []arrival) (joined, recovered, refired []string, raised *triaged.Member) {
	for _, a := range in {
		m := member(a)
		i := slices.IndexFunc(inc.Members, func(x triaged.Member) bool { return x.Fingerprint == m.Fingerprint })
		if i < 0 {
			if len(inc.Members) >= triaged.MaxMembers {
				inc.MembersDropped++
				continue
			}
			inc.Members = append(inc.Members, m)
			if m.Firing() {
				joined = append(joined, m.Fingerprint)
				if raiseSeverity(inc, m) {
					raised = &inc.Members[len(inc.Members)-1]
				}
			}
			continue
		}
		old := inc.Members[i]
		switch {
		case old.Firing() && !m.Firing():
			recovered = append(recovered, m.Fingerprint)
		case !old.Firing() && m.Firing() && !m.StartsAt.Before(old.StartsAt):
			refired = append(refired, m.Fingerprint)
			if raiseSeverity(inc, m) {
				raised = &inc.Members[i]
			}
		case !old.Firing() && m.Firing():
			continue // a late firing message overtaken by its own resolution
		default:
			continue
		}
		inc.Members[i] = m
	}
	return joined, recovered, refired, raised
}

// raiseSeverity makes the incident at least as severe as a firing member; an open incident's
// severity is never lowered while it lasts.
func raiseSeverity(inc *triaged.Incident, m triaged.Member) bool {
	if !m.Severity.Valid() {
		return false
	}
	if !inc.Severity.Valid() || m.Severity < inc.Severity {
		inc.Severity = m.Severity
		return true
	}
	return false
}

// Bounds of what a member keeps of its alert's labels and annotations: 500 members must fit in
// one bucket entry and 50 of them in one report, whatever a sender put in an alert.
const (
	maxMemberPairs      = 64
	maxMemberValueBytes = 1024
)

// bounded copies a label or annotation set, at most maxMemberPairs pairs (by name) and values
// cut at maxMemberValueBytes.
func bounded(kv map[string]string) map[string]string {
	if len(kv) == 0 {
		return kv
	}
	names := make([]string, 0, len(kv))
	for k := range kv {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]string, min(len(names), maxMemberPairs))
	for _, k := range names[:min(len(names), maxMemberPairs)] {
		out[truncate(k, 128)] = truncate(kv[k], maxMemberValueBytes)
	}
	return out
}

func member(a arrival) triaged.Member {
	m := triaged.Member{
		Fingerprint: a.alert.ID(), Status: a.alert.Status, Labels: bounded(a.alert.Labels), Annotations: bounded(a.alert.Annotations),
		StartsAt: a.alert.StartsAt.UTC(), GeneratorURL: a.alert.GeneratorURL, Severity: a.cls.Severity, Rule: a.cls.Rule,
	}
	if a.alert.Resolved() && !a.alert.EndsAt.IsZero() {
		m.EndsAt = at(a.alert.EndsAt.UTC())
	}
	return m
}

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

func (p Policy) edge(inc *triaged.Incident, now time.Time) { inc.LastEdgeAt = at(now) }

// flapping reports whether more than FlapThreshold episodes started within FlapWindow of the
// newest one.
func (p Policy) flapping(inc *triaged.Incident) bool {
	n := len(inc.Episodes)
	if n == 0 {
		return false
	}
	newest, count := inc.Episodes[n-1].Start, 0
	for _, e := range inc.Episodes {
		if newest.Sub(e.Start) <= p.FlapWindow {
			count++
		}
	}
	return count > p.FlapThreshold
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

func addPending(inc *triaged.Incident, notes []string, now time.Time) {
	if len(inc.Pending) == 0 {
		inc.PendingSince = at(now)
	}
	inc.Pending = append(inc.Pending, notes...)
	if over := len(inc.Pending) - triaged.MaxPending; over > 0 {
		inc.Pending = append([]string{fmt.Sprintf("(%d earlier changes not listed)", over)}, inc.Pending[over+1:]...)
	}
}

func takePending(inc *triaged.Incident) []string {
	p := inc.Pending
	inc.Pending, inc.PendingSince = nil, nil
	return p
}

func addEpisode(eps []triaged.Episode, start time.Time) []triaged.Episode {
	eps = append(eps, triaged.Episode{Start: start})
	if over := len(eps) - triaged.MaxEpisodes; over > 0 {
		eps = slices.Clone(eps[over:])
	}
	return eps
}

func closeEpisode(eps []triaged.Episode, end time.Time) {
	if n := len(eps); n > 0 && eps[n-1].End == nil {
		eps[n-1].End = &end
	}
}

func earliestFiring(in []arrival) time.Time {
	var t time.Time
	for _, a := range in {
		if !a.alert.Resolved() && (t.IsZero() || a.alert.StartsAt.Before(t)) {
			t = a.alert.StartsAt
		}
	}
	return t.UTC()
}

// latestEnd is when the last member stopped firing, by Alertmanager's endsAt, else now.
func latestEnd(inc *triaged.Incident, now time.Time) time.Time {
	var t time.Time
	for _, m := range inc.Members {
		if m.EndsAt != nil && m.EndsAt.After(t) {
			t = *m.EndsAt
		}
	}
	if t.IsZero() || t.After(now) {
		return now.UTC()
	}
	return t
}

func clone(inc *triaged.Incident) *triaged.Incident {
	c := *inc
	c.Members = slices.Clone(inc.Members)
	c.Episodes = slices.Clone(inc.Episodes)
	c.Pending = slices.Clone(inc.Pending)
	c.Reports = slices.Clone(inc.Reports)
	c.Decisions = slices.Clone(inc.Decisions)
	return &c
}

func at(t time.Time) *time.Time { return &t }

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
