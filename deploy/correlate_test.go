package deploy

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
)

var alertStart = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

// memIndex is an index filled directly, for the rules of Correlate alone; the tests above feed
// indexes from real NATS.
func memIndex(t *testing.T, events ...Event) *Index {
	t.Helper()
	ix := NewIndex(nil, names, IndexOptions{Registerer: prometheus.NewPedanticRegistry(), Now: func() time.Time { return alertStart }})
	for _, e := range events {
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		ix.add(e.withDefaults(alertStart), true)
	}
	ix.markReady()
	return ix
}

func ev(svc, env, version string, before time.Duration) Event {
	return Event{Service: svc, Environment: env, Version: version, Time: alertStart.Add(-before)}
}

func TestCorrelate(t *testing.T) {
	events := []Event{
		ev("checkout", "prod", "c-edge-window", 2*time.Hour),                // exactly at the window's start: in
		ev("checkout", "prod", "c-too-old", 2*time.Hour+time.Second),        // just before it: out
		ev("checkout", "prod", "c-suspect-edge", 30*time.Minute),            // exactly at the suspect edge: suspect
		ev("checkout", "prod", "c-not-suspect", 30*time.Minute+time.Second), // just outside: not suspect
		ev("checkout", "prod", "c-at-start", 0),                             // at the alert's start: in, 0 minutes
		ev("checkout", "prod", "c-after", -time.Second),                     // after the alert started: ignored
		ev("checkout", "staging", "c-staging", 5*time.Minute),               // other environment
		ev("checkout", "", "c-no-env", 50*time.Minute),                      // no environment: matches all
		ev("payments", "prod", "p-1", 10*time.Minute+59*time.Second),        // a dependency
		ev("postgres", "PROD", "pg-1", 90*time.Minute),                      // environment case differs
		ev("inventory", "prod", "i-1", 3*time.Minute),                       // not a dependency
		{Service: "payments", Environment: "prod", Version: "p-failed", Time: alertStart.Add(-70 * time.Minute), Status: StatusFailed},
	}
	ix := memIndex(t, events...)
	for _, tc := range []struct {
		name     string
		service  string
		deps     []string
		env      string
		window   time.Duration
		suspect  time.Duration
		versions string // nearest first, with minutes before and * for suspect
		summary  string
	}{
		{
			name: "service only, prod", service: "checkout", env: "prod",
			versions: "c-at-start:0* c-suspect-edge:30* c-not-suspect:30 c-no-env:50 c-edge-window:120",
			summary:  "5 deploys of checkout to prod in the 2h before the alert, 2 suspect (within 30m)",
		},
		{
			name: "no environment on the alert: every environment", service: "checkout",
			versions: "c-at-start:0* c-staging:5* c-suspect-edge:30* c-not-suspect:30 c-no-env:50 c-edge-window:120",
			summary:  "6 deploys of checkout in the 2h before the alert, 3 suspect (within 30m)",
		},
		{
			name: "with dependencies", service: "checkout", deps: []string{"payments", "postgres", "checkout", ""}, env: "prod",
			versions: "c-at-start:0* p-1:10* c-suspect-edge:30* c-not-suspect:30 c-no-env:50 p-failed:70 pg-1:90 c-edge-window:120",
			summary:  "8 deploys of checkout and its dependencies (payments, postgres) to prod in the 2h before the alert: 5 of checkout, 2 of payments, 1 of postgres; 3 suspect (within 30m); 7 succeeded, 1 failed",
		},
		{
			name: "narrower windows", service: "checkout", deps: []string{"payments"}, env: "prod", window: 45 * time.Minute, suspect: 10 * time.Minute,
			versions: "c-at-start:0* p-1:10 c-suspect-edge:30 c-not-suspect:30",
			summary:  "4 deploys of checkout and its dependencies (payments) to prod in the 45m before the alert: 3 of checkout, 1 of payments; 1 suspect (within 10m)",
		},
		{
			name: "only a dependency deployed", service: "inventory-api", deps: []string{"payments"}, env: "prod", window: 30 * time.Minute,
			versions: "p-1:10*",
			summary:  "1 deploy of inventory-api and its dependencies (payments) to prod in the 30m before the alert: 1 of payments; 1 suspect (within 30m)",
		},
		{
			name: "none suspect", service: "postgres", env: "prod",
			versions: "pg-1:90",
			summary:  "1 deploy of postgres to prod in the 2h before the alert, none suspect (within 30m)",
		},
		{
			name: "negative evidence with dependencies", service: "search", deps: []string{"elasticsearch", "redis"}, env: "prod",
			summary: "no deploys of search or its dependencies (elasticsearch, redis) to prod in the 2h before the alert",
		},
		{
			name: "negative evidence, environment filtered out", service: "inventory", env: "staging",
			summary: "no deploys of inventory to staging in the 2h before the alert",
		},
		{
			name: "negative evidence: everything after the alert", service: "checkout", env: "prod", window: time.Second,
			versions: "c-at-start:0*",
			summary:  "1 deploy of checkout to prod in the 1s before the alert, 1 suspect (within 30m)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ix.Correlate(Query{Service: tc.service, Dependencies: tc.deps, Environment: tc.env, AlertStart: alertStart, Window: tc.window, SuspectWindow: tc.suspect})
			var got []string
			for _, ch := range c.Changes {
				s := fmt.Sprintf("%s:%d", ch.Version, ch.MinutesBefore)
				if ch.Suspect {
					s += "*"
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != tc.versions {
				t.Errorf("changes\n got %s\nwant %s", strings.Join(got, " "), tc.versions)
			}
			if c.Summary != tc.summary {
				t.Errorf("summary\n got %s\nwant %s", c.Summary, tc.summary)
			}
			if !c.Complete {
				t.Error("not complete on a ready index")
			}
			if c.Changes == nil {
				t.Error("Changes is nil: the report would show null, not an empty list")
			}
		})
	}
}

func TestCorrelateCopiesEventFields(t *testing.T) {
	e := Event{Service: "checkout", Environment: "prod", Version: "v1", Commit: "abc", Author: "alice", URL: "https://ci/1", Time: alertStart.Add(-90 * time.Second)}
	c := memIndex(t, e).Correlate(Query{Service: "checkout", Environment: "prod", AlertStart: alertStart})
	ch := c.Changes[0]
	if ch.Service != "checkout" || ch.Environment != "prod" || ch.Version != "v1" || ch.Commit != "abc" || ch.Author != "alice" ||
		ch.URL != "https://ci/1" || !ch.Time.Equal(e.Time) || ch.MinutesBefore != 1 || !ch.Suspect {
		t.Errorf("change %+v", ch)
	}
}

func TestCorrelateWhileLoading(t *testing.T) {
	ix := NewIndex(nil, names, IndexOptions{Registerer: prometheus.NewPedanticRegistry()})
	c := ix.Correlate(Query{Service: "checkout", AlertStart: alertStart})
	want := "no deploys of checkout in the 2h before the alert (the deploy index is still loading, so this may be incomplete)"
	if c.Complete || c.Summary != want {
		t.Errorf("got %+v, want incomplete with %q", c, want)
	}
}

func TestIndexPrune(t *testing.T) {
	now := alertStart
	ix := NewIndex(nil, names, IndexOptions{MaxAge: 24 * time.Hour, MaxEvents: 200, Now: func() time.Time { return now },
		Registerer: prometheus.NewPedanticRegistry()})
	ix.add(ev("checkout", "", "too-old", 25*time.Hour), true) // never indexed
	for i := range 100 {
		ix.add(ev(fmt.Sprintf("svc-%d", i%3), "", fmt.Sprint(i), time.Duration(i)*10*time.Minute), true)
	}
	if ix.Len() != 100 {
		t.Fatalf("Len = %d, want 100", ix.Len())
	}
	now = now.Add(12 * time.Hour) // events older than 12 h before alertStart expire
	ix.prune()
	if ix.Len() != 73 { // i*10 min <= 12 h: i in 0..72
		t.Errorf("after prune: Len = %d, want 73", ix.Len())
	}
	// Over MaxEvents, the oldest go first, down to 1% under the cap.
	for i := range 200 {
		ix.add(Event{Service: "flood", Version: fmt.Sprint(i), Time: now.Add(-time.Duration(i) * time.Second)}, true)
	}
	if ix.Len() > 200 || ix.Len() < 190 {
		t.Errorf("after flood: Len = %d, want at most 200", ix.Len())
	}
	c := ix.Correlate(Query{Service: "flood", AlertStart: now, Window: time.Minute})
	if len(c.Changes) != 61 || c.Changes[0].Version != "0" {
		t.Errorf("the newest events were dropped: %d changes, first %+v", len(c.Changes), c.Changes[0])
	}
	if len(ix.store.byKey) != ix.Len() {
		t.Errorf("byKey holds %d, index %d", len(ix.store.byKey), ix.Len())
	}
}

// TestCorrelateConcurrent is for -race: triage correlates while the stream feeds the index and
// the pruner runs. Each service's deploys are added nearest first, so every correlation must
// show each service's deploys as a prefix of that order, nearest first: an event half-inserted,
// lost or torn would break the prefix. Readers run for as long as the writers do (at least a few
// rounds each), with a window that holds a bounded number of deploys, so that the cost under
// -race is the overlap itself rather than sorting thousands of hits per call.
func TestCorrelateConcurrent(t *testing.T) {
	const services, perService, inWindow = 4, 500, 61 // deploys i seconds before the alert; the window is 1m
	ix := memIndex(t)
	var writers, readers sync.WaitGroup
	writing := make(chan struct{})
	for w := range services {
		writers.Go(func() {
			for i := range perService {
				ix.add(ev(fmt.Sprintf("svc-%d", w), "prod", fmt.Sprint(i), time.Duration(i)*time.Second), true)
			}
		})
	}
	for range services {
		readers.Go(func() {
			for round := 0; ; round++ {
				select {
				case <-writing:
					if round >= 20 {
						return
					}
				default:
				}
				c := ix.Correlate(Query{Service: "svc-0", Dependencies: []string{"svc-1", "svc-2", "svc-3"}, Environment: "prod", AlertStart: alertStart, Window: time.Minute})
				if err := prefixes(c.Changes, inWindow); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	readers.Go(ix.prune)
	writers.Wait()
	close(writing)
	readers.Wait()
	if ix.Len() != services*perService {
		t.Errorf("Len = %d, want %d", ix.Len(), services*perService)
	}
	c := ix.Correlate(Query{Service: "svc-0", Dependencies: []string{"svc-1", "svc-2", "svc-3"}, Environment: "prod", AlertStart: alertStart, Window: time.Hour})
	if err := prefixes(c.Changes, perService); err != nil || len(c.Changes) != services*perService {
		t.Errorf("after the writers: %d changes, %v; want all %d", len(c.Changes), err, services*perService)
	}
}

// prefixes checks that changes are nearest first and that each service's versions run 0, 1, 2,
// … without a gap, at most limit of them.
func prefixes(changes []triaged.Change, limit int) error {
	next := map[string]int{}
	for i, ch := range changes {
		if i > 0 && ch.Time.After(changes[i-1].Time) {
			return fmt.Errorf("change %d (%s %s) is nearer than the one before it", i, ch.Service, ch.Version)
		}
		if want := fmt.Sprint(next[ch.Service]); ch.Version != want {
			return fmt.Errorf("change %d: %s version %s, want %s: not a prefix of the order added", i, ch.Service, ch.Version, want)
		}
		next[ch.Service]++
	}
	for svc, n := range next {
		if n > limit {
			return fmt.Errorf("%d changes of %s, at most %d fit the window", n, svc, limit)
		}
	}
	return nil
}
