package triage

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
)

// TestIncidentStateMachine walks one group through every transition, a notification at a time,
// including resends, out-of-order and late messages.
func TestIncidentStateMachine(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	p := Policy{ReopenWindow: time.Hour, UpdateInterval: 5 * time.Minute, FlapThreshold: 2, FlapWindow: 30 * time.Minute, FlapStable: 10 * time.Minute}
	g := triaged.Group{Receiver: "triaged", Key: `{}:{alertname="TargetDown"}`, Labels: template.KV{"alertname": "TargetDown"}}
	alert := func(inst, status string, start time.Time, sev triaged.Severity) arrival {
		a := &triaged.Alert{Alert: template.Alert{Status: status, StartsAt: start, Fingerprint: fmt.Sprintf("%016x", len(inst)+int(inst[len(inst)-1])),
			Labels: template.KV{"alertname": "TargetDown", "instance": inst}}}
		if status == triaged.StatusResolved {
			a.EndsAt = start.Add(time.Minute)
		}
		return arrival{alert: a, cls: triaged.Classification{Severity: sev, Rule: "r-" + sev.String()}}
	}
	fire := func(inst string, start time.Time, sev triaged.Severity) arrival {
		return alert(inst, triaged.StatusFiring, start, sev)
	}
	resolve := func(inst string, start time.Time) arrival {
		return alert(inst, triaged.StatusResolved, start, triaged.P3)
	}

	steps := []struct {
		name    string
		at      time.Duration // after t0
		flush   bool
		in      []arrival
		event   triaged.Event
		skip    string
		notes   string // substring of the joined notes
		state   string
		sev     triaged.Severity
		flushAt time.Duration // -1: none
	}{
		{"a resolution of an unknown group opens nothing", 0, false, []arrival{resolve("api-1", t0)}, "", skipResolvedUnseen, "", "", 0, -1},
		{"first firing opens", 0, false, []arrival{fire("api-1", t0, triaged.P3), fire("api-2", t0, triaged.P3), fire("api-3", t0, triaged.P3)}, triaged.EventOpened, "", "", triaged.IncidentOpen, triaged.P3, -1},
		{"an identical resend changes nothing", time.Minute, false, []arrival{fire("api-1", t0, triaged.P3), fire("api-2", t0, triaged.P3)}, "", skipUnchanged, "", "", 0, -1},
		{"a joiner within the update interval is coalesced", 2 * time.Minute, false, []arrival{fire("api-4", t0.Add(time.Minute), triaged.P3)}, "", "", "", triaged.IncidentOpen, triaged.P3, 5 * time.Minute},
		{"the flush before it is due waits", 4 * time.Minute, true, nil, "", "", "", "", 0, 5 * time.Minute},
		{"the due flush reports every change since", 5 * time.Minute, true, nil, triaged.EventUpdated, "", "1 more alert joined (api-4)", triaged.IncidentOpen, triaged.P3, -1},
		{"a recovery after the interval is reported at once", 11 * time.Minute, false, []arrival{resolve("api-1", t0)}, triaged.EventUpdated, "", "1 of 4 recovered (api-1), 3 still firing", triaged.IncidentOpen, triaged.P3, -1},
		{"a late firing overtaken by its resolution is ignored", 12 * time.Minute, false, []arrival{fire("api-1", t0.Add(-time.Minute), triaged.P3)}, "", skipUnchanged, "", "", 0, -1},
		{"a more severe joiner raises the severity", 20 * time.Minute, false, []arrival{fire("db-1", t0.Add(19*time.Minute), triaged.P1)}, triaged.EventUpdated, "", "severity raised to P1 by db-1 (rule r-P1)", triaged.IncidentOpen, triaged.P1, -1},
		{"all resolved resolves", 30 * time.Minute, false, []arrival{resolve("api-2", t0), resolve("api-3", t0), resolve("api-4", t0), resolve("db-1", t0)}, triaged.EventResolved, "", "none still firing", triaged.IncidentResolved, triaged.P1, -1},
		{"a duplicate resolution changes nothing", 31 * time.Minute, false, []arrival{resolve("api-2", t0)}, "", skipUnchanged, "", "", 0, -1},
		{"firing again within the window reopens", 40 * time.Minute, false, []arrival{fire("api-2", t0.Add(39*time.Minute), triaged.P3)}, triaged.EventReopened, "", "1 alert fired again (api-2)", triaged.IncidentOpen, triaged.P1, -1},
		{"resolving again", 41 * time.Minute, false, []arrival{resolve("api-2", t0.Add(39*time.Minute))}, triaged.EventResolved, "", "recovered", triaged.IncidentResolved, triaged.P1, -1},
		{"the third firing, two within 30m, reopens", 42 * time.Minute, false, []arrival{fire("api-2", t0.Add(41*time.Minute), triaged.P3)}, triaged.EventReopened, "", "", triaged.IncidentOpen, triaged.P1, -1},
		{"resolving a third time", 43 * time.Minute, false, []arrival{resolve("api-2", t0.Add(41*time.Minute))}, triaged.EventResolved, "", "", triaged.IncidentResolved, triaged.P1, -1},
		{"the fourth firing, the third within 30m, is flapping", 44 * time.Minute, false, []arrival{fire("api-2", t0.Add(43*time.Minute), triaged.P3)}, triaged.EventUpdated, "", "flapping: fired 3 times within 30m0s, about every 2m0s", triaged.IncidentOpen, triaged.P1, 54 * time.Minute},
		{"edges while flapping are not reported", 45 * time.Minute, false, []arrival{resolve("api-2", t0.Add(43*time.Minute))}, "", "", "", triaged.IncidentResolved, triaged.P1, 55 * time.Minute},
		{"the flush after a later edge waits", 54 * time.Minute, true, nil, "", "", "", "", 0, 55 * time.Minute},
		{"stable for flap_stable: one summary", 55 * time.Minute, true, nil, triaged.EventResolved, "", "stopped flapping", triaged.IncidentResolved, triaged.P1, -1},
		{"firing after the reopen window opens a new incident", 3 * time.Hour, false, []arrival{fire("api-1", t0.Add(3*time.Hour), triaged.P2)}, triaged.EventOpened, "", "", triaged.IncidentOpen, triaged.P2, -1},
	}
	var inc *triaged.Incident
	ids := map[string]bool{}
	for _, s := range steps {
		now := t0.Add(s.at)
		var next *triaged.Incident
		var st step
		if s.flush {
			next, st = p.flush(inc, now)
		} else {
			next, st = p.apply(inc, g, s.in, now)
		}
		got := strings.Join(st.notes, "; ")
		switch {
		case st.event != s.event || st.skip != s.skip:
			t.Fatalf("%s: event %q skip %q, want %q %q (notes %q)", s.name, st.event, st.skip, s.event, s.skip, got)
		case !strings.Contains(got, s.notes):
			t.Fatalf("%s: notes %q, want them to say %q", s.name, got, s.notes)
		case s.flushAt >= 0 && (st.flushAt == nil || !st.flushAt.Equal(t0.Add(s.flushAt))):
			t.Fatalf("%s: flush at %v, want %v", s.name, st.flushAt, t0.Add(s.flushAt))
		case s.skip == "" && s.state != "" && (next.State != s.state || next.Severity != s.sev):
			t.Fatalf("%s: incident %s %s, want %s %s", s.name, next.State, next.Severity, s.state, s.sev)
		}
		if s.skip == "" {
			if st.event != "" {
				next.LastReportAt = now // as the worker does when it reports
			}
			inc = next
			ids[inc.ID] = true
		}
	}
	if len(ids) != 2 {
		t.Errorf("%d incident ids, want 2 (a reopen keeps its id; a firing after the window is a new incident): %v", len(ids), ids)
	}
	if len(inc.Episodes) != 5 {
		t.Errorf("%d episodes kept, want the 4 of the first incident and the new one", len(inc.Episodes))
	}
}

func TestIncidentIDIsShortStableAndReadable(t *testing.T) {
	inc := &triaged.Incident{Key: "triaged\x00{}:{alertname=\"TargetDown\"}", OpenedAt: time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC), GroupLabels: map[string]string{"alertname": "Target Down!! in prod"}}
	id := incidentID(inc, nil)
	if !strings.HasPrefix(id, "20261126-target-down-in-prod-") || len(id) > 48 || id != incidentID(inc, nil) {
		t.Errorf("id %q: want 20261126-target-down-in-prod-<hash>, short and stable", id)
	}
	other := *inc
	other.Key += "x"
	if incidentID(&other, nil) == id {
		t.Error("two groups opened at the same time share an id")
	}
}

// TestResolveHold: a resolution is reported only once the group stayed resolved for the hold; a
// refiring within it was never a resolution to the reader.
func TestResolveHold(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	p := DefaultPolicy()
	g := triaged.Group{Receiver: "triaged", Key: "k", Labels: template.KV{"alertname": "X"}}
	a := func(status string, start time.Time) []arrival {
		al := &triaged.Alert{Alert: template.Alert{Status: status, StartsAt: start, Fingerprint: "00000000000000aa", Labels: template.KV{"alertname": "X", "instance": "i"}}}
		return []arrival{{alert: al, cls: triaged.Classification{Severity: triaged.P2}}}
	}
	inc, st := p.apply(nil, g, a(triaged.StatusFiring, t0), t0)
	if st.event != triaged.EventOpened {
		t.Fatalf("first firing: %q", st.event)
	}
	inc.LastReportAt = t0
	inc, st = p.apply(inc, g, a(triaged.StatusResolved, t0), t0.Add(time.Minute))
	if st.event != "" || st.flushAt == nil || !st.flushAt.Equal(t0.Add(2*time.Minute)) || inc.State != triaged.IncidentResolved {
		t.Fatalf("resolution: event %q flush %v state %s; want it held until the hold ends", st.event, st.flushAt, inc.State)
	}
	inc, st = p.apply(inc, g, a(triaged.StatusFiring, t0.Add(90*time.Second)), t0.Add(90*time.Second))
	if st.event != "" || inc.State != triaged.IncidentOpen || inc.ResolutionDue != nil || len(inc.Pending) != 0 {
		t.Fatalf("refiring within the hold: event %q state %s; want nothing reported, open again", st.event, inc.State)
	}
	if _, st = p.flush(inc, t0.Add(2*time.Minute)); st.event != "" {
		t.Fatalf("the first hold's flush after the refiring reported %q", st.event)
	}
	inc, _ = p.apply(inc, g, a(triaged.StatusResolved, t0.Add(90*time.Second)), t0.Add(3*time.Minute))
	if _, st = p.flush(inc, t0.Add(3*time.Minute+30*time.Second)); st.event != "" || st.flushAt == nil {
		t.Fatalf("a flush before the hold ends: %q %v, want it to wait", st.event, st.flushAt)
	}
	inc, st = p.flush(inc, t0.Add(4*time.Minute))
	if st.event != triaged.EventResolved || !strings.Contains(strings.Join(st.notes, ";"), "1 of 1 recovered (i), none still firing") || inc.ResolutionDue != nil {
		t.Fatalf("the hold's end: %q %q, want resolved saying what recovered", st.event, st.notes)
	}
}

// TestMembersAreBounded: whatever a sender puts in an alert, a member keeps a bounded copy, so
// 500 of them fit in one bucket entry.
func TestMembersAreBounded(t *testing.T) {
	labels := template.KV{"alertname": "X"}
	for i := range 200 {
		labels[fmt.Sprintf("l%03d", i)] = strings.Repeat("é", 5000)
	}
	a := &triaged.Alert{Alert: template.Alert{Status: triaged.StatusFiring, Labels: labels, Annotations: template.KV{"description": strings.Repeat("x", 1<<20)}, Fingerprint: "00000000000000aa"}}
	m := member(arrival{alert: a})
	if len(m.Labels) != maxMemberPairs || len(m.Annotations["description"]) > maxMemberValueBytes+len("…") {
		t.Fatalf("member keeps %d labels and a %d-byte description", len(m.Labels), len(m.Annotations["description"]))
	}
	for k, v := range m.Labels {
		if len(v) > maxMemberValueBytes+len("…") || !utf8.ValidString(v) {
			t.Fatalf("label %s: %d bytes, valid UTF-8 %t", k, len(v), utf8.ValidString(v))
		}
	}
}

// TestGroupByLabels: with incidents.group_by, one notification's alerts are split into the
// incidents their labels name.
func TestGroupByLabels(t *testing.T) {
	p := DefaultPolicy()
	p.GroupBy = []string{"service"}
	g := triaged.Group{Receiver: "triaged", Key: `{}:{alertname="Errors"}`}
	alert := func(svc string) *triaged.Alert {
		return &triaged.Alert{Alert: template.Alert{Labels: template.KV{"alertname": "Errors", "service": svc}}}
	}
	if p.key(g, alert("checkout")) == p.key(g, alert("payments")) {
		t.Error("two services of one Alertmanager group share an incident under group_by: [service]")
	}
	if p.key(g, alert("checkout")) != p.key(triaged.Group{Receiver: "triaged", Key: "another group"}, alert("checkout")) {
		t.Error("group_by: [service] still keys by Alertmanager's group")
	}
	if d := DefaultPolicy(); d.key(g, alert("checkout")) != d.key(g, alert("payments")) {
		t.Error("without group_by, one Alertmanager group is not one incident")
	}
}

func TestRecurrence(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	ep := func(startAgo, lasted time.Duration) triaged.Episode {
		end := now.Add(-startAgo + lasted)
		return triaged.Episode{Start: now.Add(-startAgo), End: &end}
	}
	inc := &triaged.Incident{Episodes: []triaged.Episode{ep(30*time.Hour, time.Minute), ep(3*time.Hour, 30*time.Second), ep(time.Hour, 90*time.Second), ep(10*time.Minute, 20*time.Second), {Start: now}}}
	got := recurrence(inc, now)
	want := "fired 3 times in the last 24 h before this (median duration 30s, last resolved 9m40s ago; triaged's incident history of this group)"
	if got != want {
		t.Errorf("recurrence:\n got %s\nwant %s", got, want)
	}
	if got := recurrence(&triaged.Incident{Episodes: []triaged.Episode{{Start: now}}}, now); !strings.HasPrefix(got, "not fired in the last 24 h") {
		t.Errorf("a first episode: %s", got)
	}
}

// TestAForgedResolutionResolvesNothing: a resolution that claims a member's fingerprint but names
// other labels does not resolve that member: identity comes from the labels.
func TestAForgedResolutionResolvesNothing(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	p := DefaultPolicy()
	g := triaged.Group{Receiver: "triaged", Key: "k"}
	real := &triaged.Alert{Alert: template.Alert{Status: triaged.StatusFiring, StartsAt: t0, Labels: template.KV{"alertname": "X", "instance": "db-1"}}}
	inc, _ := p.apply(nil, g, []arrival{{alert: real, cls: triaged.Classification{Severity: triaged.P1}}}, t0)
	forged := &triaged.Alert{Alert: template.Alert{Status: triaged.StatusResolved, StartsAt: t0, Fingerprint: real.ID(), Labels: template.KV{"alertname": "X", "instance": "elsewhere"}}}
	next, st := p.apply(inc, g, []arrival{{alert: forged}}, t0.Add(time.Minute))
	if next.State != triaged.IncidentOpen || st.event != "" || !next.Members[0].Firing() {
		t.Fatalf("a forged resolution: state %s, event %q, member firing %t; want the incident untouched", next.State, st.event, next.Members[0].Firing())
	}
}
