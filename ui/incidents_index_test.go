package ui

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

var t0 = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

// incidentJSON is an incident's state as the incidents bucket holds it.
func incidentJSON(t testing.TB, id, state string, sev triaged.Severity, seq int, opened time.Time, firing, resolved int) []byte {
	t.Helper()
	inc := triaged.Incident{ID: id, State: state, Severity: sev, OpenedAt: opened, UpdatedAt: opened.Add(time.Duration(seq) * time.Minute), Seq: seq,
		Service:     triaged.Service{Name: "checkout", Environment: "prod", Team: "shop"},
		GroupLabels: map[string]string{"alertname": "HighErrorRate"}}
	for i := range firing + resolved {
		status := triaged.StatusFiring
		if i >= firing {
			status = triaged.StatusResolved
		}
		inc.Members = append(inc.Members, triaged.Member{Fingerprint: fmt.Sprint(i), Status: status, Severity: sev, Labels: map[string]string{"alertname": "HighErrorRate"}})
	}
	for n := 1; n <= seq; n++ {
		ev := triaged.EventUpdated
		if n == 1 {
			ev = triaged.EventOpened
		}
		inc.Reports = append(inc.Reports, triaged.ReportRef{ID: fmt.Sprintf("%s.%d.%s", id, n, ev), Event: ev, Severity: sev})
	}
	b, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func report(id string, n int, ev triaged.Event, sev triaged.Severity, headline string) *triaged.Report {
	return &triaged.Report{ID: fmt.Sprintf("%s.%d.%s", id, n, ev), IncidentID: id, Event: ev, Severity: sev, Headline: headline,
		Service: "checkout", Team: "payments", StartedAt: t0, TriagedAt: t0.Add(time.Duration(n) * time.Minute), AlertsFiring: 1}
}

func one(t *testing.T, x *Index, id string) Summary {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.byID[id]
	if s == nil {
		t.Fatalf("incident %s not indexed", id)
	}
	return *s
}

// TestIndexTakesTheNewerOfBucketAndReport: the bucket's watch and the reports stream arrive in
// either order; the index keeps what the later report number says, and the report's headline.
func TestIndexTakesTheNewerOfBucketAndReport(t *testing.T) {
	for _, tc := range []struct {
		name         string
		steps        func(t *testing.T, x *Index)
		state, sev   string
		headline     string
		firing, team string
	}{
		{"bucket only", func(t *testing.T, x *Index) {
			x.Put("g.a", incidentJSON(t, "a", "open", triaged.P2, 1, t0, 2, 1), false)
		}, "open", "P2", "P2 HIGH · HighErrorRate · checkout (prod) · 2 of 3 alerts firing", "2", "shop"},
		{"report, then its bucket state", func(t *testing.T, x *Index) {
			x.Report(report("a", 1, triaged.EventOpened, triaged.P2, "from the report"))
			x.Put("g.a", incidentJSON(t, "a", "open", triaged.P2, 1, t0, 2, 1), false)
		}, "open", "P2", "from the report", "2", "payments"},
		{"bucket state, then its report", func(t *testing.T, x *Index) {
			x.Put("g.a", incidentJSON(t, "a", "open", triaged.P2, 1, t0, 2, 1), false)
			x.Report(report("a", 1, triaged.EventOpened, triaged.P2, "from the report"))
		}, "open", "P2", "from the report", "2", "payments"},
		{"a later report over an older bucket state", func(t *testing.T, x *Index) {
			x.Put("g.a", incidentJSON(t, "a", "open", triaged.P3, 1, t0, 2, 1), false)
			x.Report(report("a", 2, triaged.EventResolved, triaged.P1, "resolved"))
		}, "resolved", "P1", "resolved", "1", "payments"},
		{"an older bucket state after a later report", func(t *testing.T, x *Index) {
			x.Report(report("a", 2, triaged.EventResolved, triaged.P1, "resolved"))
			x.Put("g.a", incidentJSON(t, "a", "open", triaged.P3, 1, t0, 2, 1), false)
		}, "resolved", "P1", "resolved", "1", "payments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := NewIndex(10, 0, nil)
			tc.steps(t, x)
			s := one(t, x, "a")
			if s.State != tc.state || s.Severity != tc.sev || s.Headline != tc.headline || fmt.Sprint(s.Firing) != tc.firing || s.Team != tc.team {
				t.Errorf("got %s %s %q firing %d team %q, want %s %s %q firing %s team %q",
					s.State, s.Severity, s.Headline, s.Firing, s.Team, tc.state, tc.sev, tc.headline, tc.firing, tc.team)
			}
		})
	}
}

// TestIndexFollowsTheBucketsKeys: a group's key passes to its next incident while the earlier
// one is archived; deleting a key forgets an incident no other key holds.
func TestIndexFollowsTheBucketsKeys(t *testing.T) {
	x := NewIndex(10, 0, nil)
	x.Put("g.grp", incidentJSON(t, "first", "resolved", triaged.P3, 2, t0, 0, 1), false)
	x.Put("a.first", incidentJSON(t, "first", "resolved", triaged.P3, 2, t0, 0, 1), false)
	x.Put("g.grp", incidentJSON(t, "second", "open", triaged.P2, 1, t0.Add(time.Hour), 1, 0), false)
	x.Put("id.second", []byte("g.grp"), false) // the id index is not an incident
	if q := x.Query(Filter{}, 0, 10); q.Matched != 2 || q.Rows[0].ID != "second" || q.Rows[1].ID != "first" {
		t.Fatalf("after the group's second incident: %+v", q.Rows)
	}
	x.Put("g.grp", nil, true)
	if q := x.Query(Filter{}, 0, 10); q.Matched != 1 || q.Rows[0].ID != "first" {
		t.Fatalf("after the group's key was deleted: %+v", q.Rows)
	}
	x.Put("a.first", nil, true)
	if q := x.Query(Filter{}, 0, 10); q.Matched != 0 {
		t.Fatalf("after the archive was deleted: %+v", q.Rows)
	}
	x.Put("g.bad", []byte("not json"), false)
	if q := x.Query(Filter{}, 0, 10); q.Matched != 0 {
		t.Fatalf("an undecodable value was indexed: %+v", q.Rows)
	}
}

// TestIndexKeepsOpenIncidentsWithinItsBound: past its bound the index drops the resolved
// incidents first, and counts what it dropped.
func TestIndexKeepsOpenIncidentsWithinItsBound(t *testing.T) {
	x := NewIndex(16, 0, nil)
	for i := range 10 { // old, open
		x.Put(fmt.Sprintf("g.open%d", i), incidentJSON(t, fmt.Sprintf("open%d", i), "open", triaged.P1, 1, t0.Add(time.Duration(i)*time.Minute), 1, 0), false)
	}
	for i := range 20 { // newer, resolved
		x.Put(fmt.Sprintf("g.res%d", i), incidentJSON(t, fmt.Sprintf("res%d", i), "resolved", triaged.P4, 2, t0.Add(time.Hour+time.Duration(i)*time.Minute), 0, 1), false)
	}
	q := x.Query(Filter{}, 0, 100)
	if q.Indexed > 16+1 || q.Evicted == 0 {
		t.Fatalf("indexed %d, evicted %d: want at most 17 and some evicted", q.Indexed, q.Evicted)
	}
	if q.Open["P1"] != 10 {
		t.Errorf("open P1 %d, want all 10 kept", q.Open["P1"])
	}
	if q := x.Query(Filter{State: "resolved"}, 0, 100); q.Rows[0].ID != "res19" {
		t.Errorf("newest resolved %s, want res19 kept", q.Rows[0].ID)
	}
}

func TestIndexDropsWhatTheBucketExpired(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	x := NewIndex(10, 24*time.Hour, func() time.Time { return now })
	x.Put("g.old", incidentJSON(t, "old", "resolved", triaged.P3, 1, t0, 0, 1), false)
	x.Put("g.new", incidentJSON(t, "new", "open", triaged.P3, 1, now.Add(-time.Hour), 1, 0), false)
	if q := x.Query(Filter{}, 0, 10); q.Matched != 1 || q.Rows[0].ID != "new" {
		t.Errorf("rows %+v, want only the one the bucket still has", q.Rows)
	}
}

// TestIndexChatLinks: a chat sink's thread becomes the incident's link; one that is not an
// http(s) URL is never kept.
func TestIndexChatLinks(t *testing.T) {
	x := NewIndex(10, 0, nil)
	rec := func(url string) []byte {
		b, _ := json.Marshal(map[string]any{"thread": notify.Thread{Channel: "C1", RootID: "1.2", RootURL: url}, "last": 1})
		return b
	}
	x.Thread("slack.inc-1", rec("https://example.slack.com/archives/C1/p12"), false)
	x.Thread("mattermost.inc-1", rec("javascript:alert(1)"), false)
	x.Thread("stdout.inc-1", []byte(`{"last":1}`), false)
	got := x.Links("inc-1")
	if len(got) != 1 || got[0] != (ChatLink{"slack", "https://example.slack.com/archives/C1/p12"}) {
		t.Fatalf("links %+v", got)
	}
	x.Thread("slack.inc-1", nil, true)
	if got := x.Links("inc-1"); len(got) != 0 {
		t.Errorf("links after delete %+v", got)
	}
}

func TestCountsTitle(t *testing.T) {
	for _, tc := range []struct {
		open map[string]int
		want string
	}{
		{nil, "triaged"},
		{map[string]int{"P1": 2, "P3": 1}, "(2 P1 · 1 P3) triaged"},
		{map[string]int{"P4": 1, "P2": 0}, "(1 P4) triaged"},
	} {
		if got := countsTitle(tc.open); got != tc.want {
			t.Errorf("countsTitle(%v) = %q, want %q", tc.open, got, tc.want)
		}
	}
}

// TestOpenCountsFollowEveryChange drives an index through openings, escalations, resolutions,
// deletions, evictions and expiry in a random order, and checks after each step that the open
// counts it keeps as it goes (the live updates title every report with them) are what counting
// the index gives.
func TestOpenCountsFollowEveryChange(t *testing.T) {
	now := t0.Add(10 * time.Hour) // reports (updated t0 + n minutes) stay, some states expire
	x := NewIndex(100, 12*time.Hour, func() time.Time { return now })
	rng := rand.New(rand.NewPCG(1, 2))
	sevs := []triaged.Severity{triaged.P1, triaged.P2, triaged.P3, triaged.P4}
	seq := map[string]int{}
	for step := range 5000 {
		id := fmt.Sprintf("inc-%03d", rng.IntN(300))
		seq[id]++
		sev := sevs[rng.IntN(len(sevs))]
		opened := now.Add(-time.Duration(rng.IntN(20)) * time.Hour) // some beyond maxAge
		switch op := rng.IntN(10); {
		case op < 4:
			state := triaged.IncidentOpen
			if rng.IntN(3) == 0 {
				state = triaged.IncidentResolved
			}
			x.Put(triaged.IncidentStatePrefix+id, incidentJSON(t, id, state, sev, seq[id], opened, 1, 0), false)
		case op < 5:
			x.Put(triaged.IncidentStatePrefix+id, nil, true)
		case op < 8:
			ev := []triaged.Event{triaged.EventOpened, triaged.EventUpdated, triaged.EventResolved}[rng.IntN(3)]
			x.Report(report(id, seq[id], ev, sev, "h"))
		default:
			x.Query(Filter{}, 0, 10) // sorts, and drops what expired
		}
		want := map[string]int{}
		x.mu.RLock()
		for _, s := range x.byID {
			if s.Open() {
				want[s.Severity]++
			}
		}
		x.mu.RUnlock()
		if got := x.OpenCounts(); !maps.Equal(got, want) {
			t.Fatalf("step %d: open counts %v, counting the index gives %v", step, got, want)
		}
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.evicted == 0 {
		t.Error("nothing was evicted: the test did not reach the index's bound")
	}
}

// TestExpiryForgetsKeysAndLinks: an incident the bucket expired (no delete marker comes) is
// forgotten with its bucket key and its chat links, not only its summary.
func TestExpiryForgetsKeysAndLinks(t *testing.T) {
	now := t0
	x := NewIndex(100, time.Hour, func() time.Time { return now })
	for i := range 50 {
		id := fmt.Sprintf("inc-%02d", i)
		x.Put(triaged.IncidentStatePrefix+id, incidentJSON(t, id, triaged.IncidentOpen, triaged.P2, 1, t0, 1, 0), false)
		x.Thread("slack."+outbox.RecordIncidentKey(id), []byte(`{"thread":{"channel":"C1","root_id":"1","root_url":"https://chat.example.com/p/`+id+`"}}`), false)
	}
	if got := len(x.Links("inc-07")); got != 1 {
		t.Fatalf("%d links of inc-07 before expiry, want 1", got)
	}
	now = t0.Add(2 * time.Hour)
	x.Query(Filter{}, 0, 10)
	x.mu.RLock()
	defer x.mu.RUnlock()
	if len(x.byID) != 0 || len(x.byKey) != 0 || len(x.threads) != 0 {
		t.Errorf("after expiry: %d incidents, %d keys, %d links kept, want none", len(x.byID), len(x.byKey), len(x.threads))
	}
}

// TestDroppedMembersAreShown: a storm's incident keeps 500 members and counts the rest; the list
// says how many more there are, also once a report (which counts kept members only) updated it.
func TestDroppedMembersAreShown(t *testing.T) {
	x := NewIndex(10, 0, nil)
	var inc triaged.Incident
	if err := json.Unmarshal(incidentJSON(t, "inc-1", triaged.IncidentOpen, triaged.P1, 1, t0, 3, 0), &inc); err != nil {
		t.Fatal(err)
	}
	inc.MembersDropped = 1500
	data, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	x.Put(triaged.IncidentStatePrefix+"inc-1", data, false)
	u, err := New(Options{Version: "test", Index: x})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"from the bucket", "after a report"} {
		if step == "after a report" {
			x.Report(report("inc-1", 2, triaged.EventUpdated, triaged.P1, "h"))
		}
		code, body := get(t, u, "/")
		if code != 200 || !strings.Contains(body, "+1500 not kept") {
			t.Errorf("%s: %d, the row does not say +1500 not kept:\n%s", step, code, body)
		}
	}
}
