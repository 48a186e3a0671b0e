package triage

import (
	"fmt"
	"slices"
	"time"

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
	// MembersMaxBytes is what an incident's members may take, encoded, in its record; a member
	// that would go over it is kept without its annotations and generator URL, or, still over,
	// counted in MembersDropped. 0: DefaultMembersMaxBytes.
	MembersMaxBytes int
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
	joined, recovered, refired, raised := p.upsert(inc, in)
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
	// The group labels are bounded as a member's are: the incident's record holds them beside a
	// report that must fit NATS' max payload too.
	inc := &triaged.Incident{
		Key: p.key(g, in[0].alert), Receiver: g.Receiver, GroupKey: g.Key, GroupLabels: bounded(g.Labels),
		ExternalURL: g.ExternalURL, State: triaged.IncidentOpen, OpenedAt: start, UpdatedAt: now,
	}
	if prev != nil {
		inc.Episodes = slices.Clone(prev.Episodes)
	}
	inc.Episodes = addEpisode(inc.Episodes, start)
	p.upsert(inc, in)
	inc.ID = incidentID(inc, in) // of the whole key: two keys cut alike are two incidents
	boundGroup(inc)
	return inc, step{event: triaged.EventOpened, investigate: true}
}

// upsert merges the alerts into the members and returns, by fingerprint, those that joined,
// recovered or fired again, and whether a member raised the severity. The members stay within
// MaxMembers and the member budget: see fit.
func (p Policy) upsert(inc *triaged.Incident, in []arrival) (joined, recovered, refired []string, raised *triaged.Member) {
	budget := newMemberBudget(inc, p.membersMaxBytes())
	for _, a := range in {
		m := member(a)
		i := slices.IndexFunc(inc.Members, func(x triaged.Member) bool { return x.Fingerprint == m.Fingerprint })
		if i < 0 {
			if len(inc.Members) >= triaged.MaxMembers || !budget.fit(&m, nil) {
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
		budget.fit(&m, &old) // kept even over the budget: it is the member's news
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

func at(t time.Time) *time.Time { return &t }
