package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
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

// BenchmarkIncidentsPageStored stores 10,000 incidents in a real incidents bucket, lets the
// index's watch read them (reported as s-to-index), and renders GET / from it.
//
//	go test -run '^$' -bench IncidentsPageStored -benchtime 200x ./ui/
func BenchmarkIncidentsPageStored(b *testing.B) {
	_, js := natstest.Connect(b, natstest.Server(b))
	topo, err := broker.Ensure(context.Background(), js, broker.MustNames("triaged"), broker.DefaultTopologyOptions())
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	for i := range n {
		id := fmt.Sprintf("20261126-higherrorrate-%08x", i)
		state := triaged.IncidentResolved
		if i%10 == 0 {
			state = triaged.IncidentOpen
		}
		data := incidentJSON(b, id, state, triaged.Severity(1+i%4), 1+i%3, t0.Add(time.Duration(i)*time.Second), 2, 1)
		if _, err := topo.Incidents.Put(context.Background(), "g."+id, data); err != nil {
			b.Fatal(err)
		}
	}
	x := NewIndex(n, 0, nil)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	start := time.Now()
	wg.Go(func() { _ = x.Watch(ctx, topo.Incidents, topo.Deliveries, nil) })
	for !x.Loaded() {
		time.Sleep(10 * time.Millisecond)
	}
	loaded := time.Since(start)
	if q := x.Query(Filter{}, 0, 1); q.Indexed != n {
		b.Fatalf("indexed %d, want %d", q.Indexed, n)
	}
	u := incidentsUI(b, x)
	for b.Loop() {
		rec := httptest.NewRecorder()
		u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != 200 {
			b.Fatalf("GET /: %d", rec.Code)
		}
	}
	b.ReportMetric(loaded.Seconds(), "s-to-index")
}
