package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/notify"
)

func incidentsUI(t testing.TB, x *Index) *UI {
	t.Helper()
	u, err := New(Options{Version: "test", Index: x, Events: NewHub(x, HubOptions{}), Now: func() time.Time { return t0.Add(90 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func get(t testing.TB, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// TestIncidentsPage renders the page of a small index: the golden file holds the whole page, the
// cases what each filter leaves.
func TestIncidentsPage(t *testing.T) {
	x := NewIndex(100, 0, nil)
	x.Put("g.a", incidentJSON(t, "20261126-higherrorrate-a", "open", triaged.P1, 1, t0, 3, 0), false)
	x.Put("g.b", incidentJSON(t, "20261126-higherrorrate-b", "resolved", triaged.P3, 2, t0.Add(10*time.Minute), 0, 2), false)
	x.Put("g.c", incidentJSON(t, "20261126-higherrorrate-c", "open", triaged.P3, 1, t0.Add(20*time.Minute), 1, 1), false)
	x.Report(&triaged.Report{ID: "20261126-higherrorrate-c.2.updated", IncidentID: "20261126-higherrorrate-c", Event: triaged.EventUpdated,
		Severity: triaged.P3, Headline: `P3 MEDIUM · <b>HighErrorRate</b> · checkout · flapping`, Flapping: true, Service: "checkout", Team: "shop",
		StartedAt: t0.Add(20 * time.Minute), TriagedAt: t0.Add(30 * time.Minute), AlertsFiring: 1, AlertsResolved: 1})
	thread, _ := json.Marshal(map[string]any{"thread": notify.Thread{Channel: "C1", RootID: "1", RootURL: "https://chat.example.com/p/1"}})
	x.Thread("slack.20261126-higherrorrate-a", thread, false)
	x.setLoaded()
	u := incidentsUI(t, x)

	code, body := get(t, u, "/")
	if code != 200 {
		t.Fatalf("GET /: %d %s", code, body)
	}
	golden.Check(t, "testdata/incidents.html", []byte(body))

	for _, tc := range []struct {
		query string
		code  int
		rows  []string // incident id suffixes, in order
		title string
	}{
		{"", 200, []string{"c", "b", "a"}, "(1 P1 · 1 P3) triaged"},
		{"state=open", 200, []string{"c", "a"}, "(1 P1 · 1 P3) triaged"},
		{"state=resolved", 200, []string{"b"}, "(1 P1 · 1 P3) triaged"},
		{"severity=p3", 200, []string{"c", "b"}, "(1 P1 · 1 P3) triaged"},
		{"service=checkout&team=shop&severity=P1", 200, []string{"a"}, "(1 P1 · 1 P3) triaged"},
		{"team=nobody", 200, nil, "(1 P1 · 1 P3) triaged"},
		{"state=closed", 400, nil, "triaged: bad filter"},
		{"severity=P9", 400, nil, "triaged: bad filter"},
		{"page=0", 400, nil, "triaged: bad filter"},
	} {
		code, body := get(t, u, "/?"+tc.query)
		var rows []string
		for _, part := range strings.Split(body, `data-incident="20261126-higherrorrate-`)[1:] {
			rows = append(rows, part[:1])
		}
		if code != tc.code || fmt.Sprint(rows) != fmt.Sprint(tc.rows) || !strings.Contains(body, "<title>"+tc.title+"</title>") {
			t.Errorf("GET /?%s: %d rows %v, want %d %v titled %q", tc.query, code, rows, tc.code, tc.rows, tc.title)
		}
		if tc.code == 400 && !strings.Contains(body, `class="error" role="alert">Bad filter: `) {
			t.Errorf("GET /?%s: the error is not named on the page", tc.query)
		}
	}
}

// TestIncidentsPagePages: 120 incidents are three pages of 50, newest first, and the links keep
// the filter.
func TestIncidentsPagePages(t *testing.T) {
	x := NewIndex(1000, 0, nil)
	for i := range 120 {
		id := fmt.Sprintf("inc-%03d", i)
		x.Put("g."+id, incidentJSON(t, id, "open", triaged.P2, 1, t0.Add(time.Duration(i)*time.Minute), 1, 0), false)
	}
	u := incidentsUI(t, x)
	for _, tc := range []struct {
		page        string
		first, last string
		prev, next  bool
	}{
		{"", "inc-119", "inc-070", false, true},
		{"&page=2", "inc-069", "inc-020", true, true},
		{"&page=3", "inc-019", "inc-000", true, false},
		{"&page=9", "", "", true, false},
	} {
		_, body := get(t, u, "/?state=open"+tc.page)
		ids := strings.Split(body, `<tr id="incident-`)[1:]
		first, last := "", ""
		if len(ids) > 0 {
			first, last = ids[0][:7], ids[len(ids)-1][:7]
		}
		if first != tc.first || last != tc.last || strings.Contains(body, `rel="prev"`) != tc.prev || strings.Contains(body, `rel="next"`) != tc.next {
			t.Errorf("page %q: rows %s…%s prev %v next %v", tc.page, first, last, strings.Contains(body, `rel="prev"`), strings.Contains(body, `rel="next"`))
		}
		if tc.next && !strings.Contains(body, `href="/?page=`) {
			t.Errorf("page %q: next link lost the filter", tc.page)
		}
	}
}

func TestIncidentsPageWithoutIndex(t *testing.T) {
	u, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, u, "/"); code != 200 || !strings.Contains(body, "keeps no index") || strings.Contains(body, "incidents.js") {
		t.Errorf("GET / without index: %d %s", code, body)
	}
}
