package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/triaged/triaged"
)

// benchIndex is an index of n incidents as the watch of the incidents bucket fills it: a tenth
// open, severities and services mixed, three members each.
func benchIndex(b *testing.B, n int) *Index {
	b.Helper()
	x := NewIndex(n, 0, nil)
	for i := range n {
		state := triaged.IncidentResolved
		if i%10 == 0 {
			state = triaged.IncidentOpen
		}
		sev := triaged.Severity(1 + i%4)
		id := fmt.Sprintf("20261126-higherrorrate-%08x", i)
		x.Put("g."+id, incidentJSON(b, id, state, sev, 1+i%3, t0.Add(time.Duration(i)*time.Second), 2, 1), false)
	}
	x.setLoaded()
	return x
}

// BenchmarkIncidentsPage renders GET / with 10,000 incidents indexed: the first page of all, a
// filtered page, and a page right after a report changed one incident (the index is sorted
// again then).
//
//	go test -run '^$' -bench IncidentsPage -benchmem ./ui/
func BenchmarkIncidentsPage(b *testing.B) {
	x := benchIndex(b, 10000)
	u := incidentsUI(b, x)
	for _, tc := range []struct {
		name, path string
		change     bool
	}{
		{"all", "/", false},
		{"filtered", "/?state=open&severity=P1&service=checkout", false},
		{"last-page", "/?page=200", false},
		{"after-a-report", "/", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				if tc.change {
					n++
					x.Report(report("20261126-higherrorrate-00000001", 10+n, triaged.EventUpdated, triaged.P1, "changed"))
				}
				rec := httptest.NewRecorder()
				u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
				if rec.Code != 200 {
					b.Fatalf("GET %s: %d", tc.path, rec.Code)
				}
			}
		})
	}
}
