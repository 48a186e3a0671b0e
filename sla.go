package triaged

import "time"

// slaFacts is the workflow's Severity Response SLA table (Triage, Mitigation and Resolution
// columns) and its status-update cadence. The Detection column is left out: detection happens
// before an alert reaches triaged, so no deadline can be counted from the alert's start for it.
var slaFacts = [...]struct {
	triage, mitigate, resolve time.Duration // mitigate 0: "best effort"
	updateEvery               time.Duration
}{
	P1: {15 * time.Minute, 30 * time.Minute, 4 * time.Hour, 15 * time.Minute},
	P2: {30 * time.Minute, time.Hour, 24 * time.Hour, 30 * time.Minute},
	// The workflow states a cadence only for P1 and P2 ("updates every [15/30] minutes"). For P3
	// an update every 2 hours is its triage deadline, so at least two updates fall inside its
	// 4-hour response time; for P4 once a day matches its one-day triage deadline and its
	// "normal business hours" escalation, where more would be noise.
	P3: {2 * time.Hour, 4 * time.Hour, 7 * 24 * time.Hour, 2 * time.Hour},
	P4: {24 * time.Hour, 0, 14 * 24 * time.Hour, 24 * time.Hour},
}

// postmortemWithin is the workflow's "within 3-5 days after resolution", taken at its far end:
// the deadline a team is held to is the latest the workflow allows, and the report says "by".
const postmortemWithin = 5 * 24 * time.Hour

// Deadlines returns the workflow's response SLA for the severity as points in time counted from
// start, the incident's start. Mitigate is nil at P4, where the workflow says "best effort". An
// invalid severity has no SLA: the zero Deadlines.
func (s Severity) Deadlines(start time.Time) Deadlines {
	if !s.Valid() {
		return Deadlines{}
	}
	f := slaFacts[s]
	d := Deadlines{Triage: later(start, f.triage), Resolve: later(start, f.resolve)}
	if f.mitigate > 0 {
		m := later(start, f.mitigate)
		d.Mitigate = &m
	}
	return d
}

// UpdateEvery is how often an open incident of this severity gets a status update: 15 minutes at
// P1 and 30 at P2 as the workflow says, 2 hours at P3 and a day at P4 (see slaFacts for why).
// It is 0 for an invalid severity.
func (s Severity) UpdateEvery() time.Duration {
	if !s.Valid() {
		return 0
	}
	return slaFacts[s].updateEvery
}

// PostmortemDue returns when the postmortem of an incident resolved at resolved is due: 5 days
// later (the workflow's "within 3-5 days after resolution") at P1 and P2. At P3 and P4 the
// workflow asks for none, and ok is false.
func (s Severity) PostmortemDue(resolved time.Time) (due time.Time, ok bool) {
	if s != P1 && s != P2 {
		return time.Time{}, false
	}
	return later(resolved, postmortemWithin), true
}

// lastTime is the last instant a report can carry: RFC 3339, and so a report's JSON, writes
// the year in four digits.
var lastTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

// later is t+d, but no later than lastTime. Validation holds an alert's times to years
// 0001–9999, and a deadline counted from one in the last days of 9999 would otherwise lie in
// year 10000 and make a report that can never be encoded.
func later(t time.Time, d time.Duration) time.Time {
	if u := t.Add(d); !u.After(lastTime) {
		return u
	}
	return lastTime
}
