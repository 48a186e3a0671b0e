package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/triaged/triaged/internal/testkit"
)

// runIndex runs a new index of the stream with o until the test ends, and waits until it is
// ready.
func runIndex(t *testing.T, js jetstream.JetStream, o IndexOptions) *Index {
	t.Helper()
	o.Registerer = prometheus.NewPedanticRegistry()
	ix := NewIndex(js, names, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := ix.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestFloodKeepsOtherServicesDeploys: a flood of deploy events published on NATS, as any CI job
// with credentials can, of one service or of many made-up ones, does not push a genuine deploy
// of another service out of the index, and an index rebuilt from the stream after it, as at a
// restart, keeps the same (issue 9, point 12). Today's bound of all events dropped the oldest
// events whatever their service: the genuine deploy went first.
func TestFloodKeepsOtherServicesDeploys(t *testing.T) {
	const n = 300 // three times the bound of all events below
	for _, tc := range []struct {
		name    string
		service func(i int) string
	}{
		{"one service", func(int) string { return "checkout" }},
		{"made-up services", func(i int) string { return fmt.Sprintf("made-up-%d", i) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, js, _ := setup(t)
			o := IndexOptions{MaxEvents: 100}
			ix := runIndex(t, js, o)
			now := time.Now().UTC().Truncate(time.Second)
			publish := func(svc, version string, at time.Time) {
				t.Helper()
				body := fmt.Sprintf(`{"service":%q,"environment":"prod","version":%q,"time":%q}`, svc, version, at.Format(time.RFC3339))
				if err := nc.Publish(names.DeploySubject(svc), []byte(body)); err != nil {
					t.Fatal(err)
				}
			}
			// The genuine deploy is the oldest event of all, the first a bound of all events drops.
			publish("payments", "v1", now.Add(-time.Hour))
			for i := range n {
				publish(tc.service(i), fmt.Sprint(i), now.Add(-time.Duration(n-i)*time.Second))
			}
			testkit.Eventually(t, 10*time.Second, "every event read", func() bool {
				return testutil.ToFloat64(ix.m.received.WithLabelValues(SourceNATS)) == n+1
			})
			if ix.Len() > o.MaxEvents {
				t.Errorf("the index holds %d events, over its bound of %d", ix.Len(), o.MaxEvents)
			}
			q := Query{Service: "payments", Environment: "prod", AlertStart: now}
			for name, ix := range map[string]*Index{"live": ix, "rebuilt": runIndex(t, js, o)} {
				c := ix.Correlate(q)
				if len(c.Changes) != 1 || c.Changes[0].Version != "v1" {
					t.Errorf("%s index: payments' deploy was pushed out by the flood: %+v", name, c)
				}
			}
		})
	}
}

// memIndexWith is memIndex with options.
func memIndexWith(t *testing.T, o IndexOptions, events ...Event) *Index {
	t.Helper()
	o.Registerer = prometheus.NewPedanticRegistry()
	o.Now = func() time.Time { return alertStart }
	ix := NewIndex(nil, names, o)
	for _, e := range events {
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		ix.add(e.withDefaults(alertStart), true)
	}
	ix.markReady()
	return ix
}

// evs returns n deploys of svc in env, the first at first before the alert, each step later.
func evs(svc, env string, n int, first, step time.Duration) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = ev(svc, env, fmt.Sprintf("%s-%d", svc, i), first-time.Duration(i)*step)
	}
	return out
}

// TestSaturationIsSaid: when the bounds dropped events of a service queried that the window may
// have held, the correlation says so instead of claiming "no deploys"; drops the window cannot
// miss are not said.
func TestSaturationIsSaid(t *testing.T) {
	cat := func(lists ...[]Event) []Event {
		var out []Event
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	for _, tc := range []struct {
		name           string
		opts           IndexOptions
		events         []Event
		q              Query
		summary        string
		incomplete     string
		changes        int
		suspect, known bool
	}{
		{
			name:    "flood in the window, the newest shown",
			opts:    IndexOptions{MaxPerService: 3},
			events:  evs("checkout", "prod", 10, 100*time.Minute, 10*time.Minute), // 100m … 10m before
			q:       Query{Service: "checkout", Environment: "prod"},
			changes: 3,
			summary: "3 deploys of checkout to prod in the 2h before the alert, 3 suspect (within 30m); " +
				"deploy index saturated for checkout: 7 older events dropped; the changes shown may be incomplete",
			incomplete: "deploy index saturated for checkout: 7 older events dropped",
		},
		{
			name: "flood after the alert started pushed out the window's deploy",
			opts: IndexOptions{MaxPerService: 3},
			events: cat([]Event{ev("checkout", "prod", "genuine", 20*time.Minute)},
				evs("checkout", "prod", 5, -time.Minute, time.Minute)), // 1m … 5m after
			q:          Query{Service: "checkout", Environment: "prod"},
			summary:    "deploy index saturated for checkout: 3 older events dropped; deploys in the 2h before the alert may be missing",
			incomplete: "deploy index saturated for checkout: 3 older events dropped",
		},
		{
			name:    "drops older than the window",
			opts:    IndexOptions{MaxPerService: 3},
			events:  cat(evs("checkout", "prod", 10, 5*time.Hour, 10*time.Minute), evs("checkout", "prod", 3, 30*time.Minute, 10*time.Minute)),
			q:       Query{Service: "checkout", Environment: "prod"},
			changes: 3,
			summary: "3 deploys of checkout to prod in the 2h before the alert, 3 suspect (within 30m)",
		},
		{
			name:    "another environment's flood",
			opts:    IndexOptions{MaxPerService: 3},
			events:  cat(evs("checkout", "staging", 10, 100*time.Minute, 10*time.Minute), []Event{ev("checkout", "prod", "v1", 50*time.Minute)}),
			q:       Query{Service: "checkout", Environment: "prod"},
			changes: 1,
			summary: "1 deploy of checkout to prod in the 2h before the alert, none suspect (within 30m)",
		},
		{
			name:    "a query of every environment sees every flood",
			opts:    IndexOptions{MaxPerService: 3},
			events:  cat(evs("checkout", "staging", 10, 100*time.Minute, 10*time.Minute), []Event{ev("checkout", "prod", "v1", 50*time.Minute)}),
			q:       Query{Service: "checkout"},
			changes: 4,
			summary: "4 deploys of checkout in the 2h before the alert, 3 suspect (within 30m); " +
				"deploy index saturated for checkout: 7 older events dropped; the changes shown may be incomplete",
			incomplete: "deploy index saturated for checkout: 7 older events dropped",
		},
		{
			name:    "dependencies",
			opts:    IndexOptions{MaxPerService: 2},
			events:  cat(evs("checkout", "prod", 3, 90*time.Minute, time.Minute), evs("payments", "prod", 2000, 100*time.Minute, time.Second), evs("postgres", "", 2, 9*time.Minute, time.Minute)),
			q:       Query{Service: "checkout", Dependencies: []string{"payments", "postgres"}, Environment: "prod"},
			changes: 6,
			summary: "6 deploys of checkout and its dependencies (payments, postgres) to prod in the 2h before the alert: 2 of checkout, 2 of payments, 2 of postgres; 2 suspect (within 30m); " +
				"deploy index saturated for checkout (1 older event dropped), payments (1,998 older events dropped); the changes shown may be incomplete",
			incomplete: "deploy index saturated for checkout (1 older event dropped), payments (1,998 older events dropped)",
		},
		{
			name:       "services not tracked while the index is full",
			opts:       IndexOptions{MaxServices: 2},
			events:     []Event{ev("a", "", "1", time.Hour), ev("b", "", "1", time.Hour), ev("checkout", "prod", "1", 10*time.Minute), ev("c", "", "1", time.Minute)},
			q:          Query{Service: "checkout", Environment: "prod"},
			summary:    "deploy index full at 2 services: 2 events of services not tracked refused; deploys in the 2h before the alert may be missing",
			incomplete: "deploy index full at 2 services: 2 events of services not tracked refused",
		},
		{
			name:    "events refused before the window",
			opts:    IndexOptions{MaxServices: 2},
			events:  []Event{ev("a", "", "1", time.Hour), ev("b", "", "1", time.Hour), ev("c", "", "1", 3*time.Hour)},
			q:       Query{Service: "a"},
			changes: 1,
			summary: "1 deploy of a in the 2h before the alert, none suspect (within 30m)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := memIndexWith(t, tc.opts, tc.events...)
			tc.q.AlertStart = alertStart
			c := ix.Correlate(tc.q)
			if c.Summary != tc.summary {
				t.Errorf("summary\n got %q\nwant %q", c.Summary, tc.summary)
			}
			if c.Incomplete != tc.incomplete {
				t.Errorf("incomplete\n got %q\nwant %q", c.Incomplete, tc.incomplete)
			}
			if len(c.Changes) != tc.changes {
				t.Errorf("%d changes, want %d", len(c.Changes), tc.changes)
			}
			if tc.incomplete != "" && strings.Contains(c.Summary, "no deploys") {
				t.Errorf("summary claims no deploys: %q", c.Summary)
			}
		})
	}
}

// TestBoundsHold: each bound holds whatever the order of the events, drops only what it must,
// and forgets what it dropped once that would have expired anyway.
func TestBoundsHold(t *testing.T) {
	t.Run("per service", func(t *testing.T) {
		ix := memIndexWith(t, IndexOptions{MaxPerService: 5}, evs("checkout", "prod", 50, 50*time.Minute, time.Minute)...)
		c := ix.Correlate(Query{Service: "checkout", AlertStart: alertStart})
		if ix.Len() != 5 || len(c.Changes) != 5 || c.Changes[0].Version != "checkout-49" || c.Changes[4].Version != "checkout-45" {
			t.Errorf("want the 5 newest of checkout, got %d: %+v", ix.Len(), c.Changes)
		}
		if got := testutil.ToFloat64(ix.m.dropped.WithLabelValues(DroppedPerService)); got != 45 {
			t.Errorf("dropped{per_service} = %v, want 45", got)
		}
	})
	t.Run("all events, largest first", func(t *testing.T) {
		events := evs("small", "", 5, time.Hour, time.Minute)
		events = append(events, evs("medium", "", 30, time.Hour, time.Minute)...)
		events = append(events, evs("flood", "", 500, time.Hour, time.Second)...)
		ix := memIndexWith(t, IndexOptions{MaxEvents: 100}, events...)
		if ix.Len() > 100 {
			t.Errorf("Len = %d, over 100", ix.Len())
		}
		for svc, want := range map[string]int{"small": 5, "medium": 30} {
			if got := len(ix.store.services[svc][""].events); got != want {
				t.Errorf("%s holds %d events, want all %d", svc, got, want)
			}
		}
		if got := testutil.ToFloat64(ix.m.dropped.WithLabelValues(DroppedEvents)); int(got) != 535-ix.Len() {
			t.Errorf("dropped{events} = %v, want %d", got, 535-ix.Len())
		}
		if len(ix.store.byKey) != ix.Len() {
			t.Errorf("byKey holds %d, index %d", len(ix.store.byKey), ix.Len())
		}
	})
	t.Run("all events, several floods", func(t *testing.T) {
		// With MaxEvents 100 and MaxServices 5, a pair of at most 18 events keeps them all.
		events := evs("genuine", "", 18, time.Hour, time.Minute)
		for i := range 200 {
			for f := range 4 {
				events = append(events, ev(fmt.Sprintf("flood-%d", f), "", fmt.Sprint(i), 50*time.Minute-time.Duration(i)*time.Second))
			}
		}
		ix := memIndexWith(t, IndexOptions{MaxEvents: 100, MaxServices: 5}, events...)
		if got := len(ix.store.services["genuine"][""].events); got != 18 || ix.Len() > 100 {
			t.Errorf("genuine holds %d of its 18 events; Len %d", got, ix.Len())
		}
	})
	t.Run("services", func(t *testing.T) {
		var events []Event
		for i := range 50 {
			events = append(events, ev(fmt.Sprintf("svc-%d", i), "", "1", time.Duration(50-i)*time.Minute))
		}
		now := alertStart
		ix := memIndexWith(t, IndexOptions{MaxServices: 10, MaxAge: 2 * time.Hour}, events...)
		ix.opts.Now = func() time.Time { return now }
		if ix.Len() != 10 || ix.store.nseries != 10 {
			t.Errorf("Len %d, %d services; want 10 of each", ix.Len(), ix.store.nseries)
		}
		if got := testutil.ToFloat64(ix.m.dropped.WithLabelValues(DroppedServices)); got != 40 {
			t.Errorf("dropped{services} = %v, want 40", got)
		}
		if got := testutil.ToFloat64(ix.m.saturated); got != 1 {
			t.Errorf("saturated gauge = %v, want 1 while events are refused", got)
		}
		// Once the tracked services' events and the refused ones expire, the index is as new.
		now = now.Add(3 * time.Hour)
		ix.prune()
		if ix.Len() != 0 || ix.store.nseries != 0 || ix.store.refused != 0 || testutil.ToFloat64(ix.m.saturated) != 0 {
			t.Errorf("after expiry: Len %d, %d services, %d refused, saturated gauge %v",
				ix.Len(), ix.store.nseries, ix.store.refused, testutil.ToFloat64(ix.m.saturated))
		}
		ix.add(ev("new", "", "1", -3*time.Hour+time.Minute), true)
		if c := ix.Correlate(Query{Service: "new", AlertStart: now}); len(c.Changes) != 1 || c.Incomplete != "" {
			t.Errorf("a new service after expiry: %+v", c)
		}
	})
	t.Run("saturation expires", func(t *testing.T) {
		now := alertStart
		ix := memIndexWith(t, IndexOptions{MaxPerService: 2, MaxAge: 2 * time.Hour}, evs("checkout", "", 5, 90*time.Minute, 10*time.Minute)...)
		ix.opts.Now = func() time.Time { return now }
		if got := testutil.ToFloat64(ix.m.saturated); got != 1 {
			t.Errorf("saturated gauge = %v, want 1", got)
		}
		now = now.Add(time.Hour) // the dropped (90m … 70m before) are now over 2h old; the kept are not
		ix.prune()
		if ix.Len() != 2 || ix.store.saturated != 0 || testutil.ToFloat64(ix.m.saturated) != 0 {
			t.Errorf("after the dropped expired: Len %d, saturated %d", ix.Len(), ix.store.saturated)
		}
		if c := ix.Correlate(Query{Service: "checkout", AlertStart: now, Window: 2 * time.Hour}); c.Incomplete != "" {
			t.Errorf("still saturated: %+v", c)
		}
	})
}

// TestFutureDatedRefused: a deploy dated beyond the clock skew, 5 minutes by default, is refused
// with 400 naming the field time over HTTP, and skipped and counted when published on NATS; a
// configured skew moves the limit (issue 9, point 12).
func TestFutureDatedRefused(t *testing.T) {
	nc, js, s := setup(t)
	ix := runIndex(t, js, IndexOptions{})
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }

	for _, tc := range []struct {
		name string
		skew time.Duration
		in   time.Duration
		code int
		want string
	}{
		{"10 minutes ahead", 0, 10 * time.Minute, 400, "time: " + at(10*time.Minute) + " is more than 5m in the future: check the clock or time zone\n"},
		{"a year ahead", 0, 365 * 24 * time.Hour, 400, "time: " + at(365*24*time.Hour) + " is more than 5m in the future"},
		{"4 minutes ahead", 0, 4 * time.Minute, 201, `"version":"4 minutes ahead"`},
		{"10 minutes ahead, skew 15m", 15 * time.Minute, 10 * time.Minute, 201, `"version":"10 minutes ahead, skew 15m"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(NewRecorder(js, names, RecorderOptions{MaxClockSkew: tc.skew}), HandlerOptions{Registerer: prometheus.NewPedanticRegistry()})
			version := strings.ReplaceAll(tc.name, " ", "_")
			code, body := post(t, h, "POST", "application/json", fmt.Sprintf(`{"service":"checkout","version":%q,"time":%q}`, version, at(tc.in)))
			want := strings.ReplaceAll(tc.want, tc.name, version)
			if code != tc.code || !strings.Contains(body, want) {
				t.Errorf("got %d %q, want %d %q", code, body, tc.code, want)
			}
			wantRefused := 0.0
			if tc.code == 400 {
				wantRefused = 1
			}
			if got := testutil.ToFloat64(h.(*handler).refused.WithLabelValues(SourceHTTP, RefusedFuture)); got != wantRefused {
				t.Errorf("refused{http,future} = %v, want %v", got, wantRefused)
			}
		})
	}
	if n := streamMsgs(t, s); n != 2 {
		t.Errorf("%d events on the stream, want the 2 accepted", n)
	}

	// Published on NATS directly: refused by the index against the stream timestamp.
	for _, d := range []time.Duration{10 * time.Minute, time.Minute} {
		body := fmt.Sprintf(`{"service":"payments","version":"in-%s","time":%q}`, fmtDuration(d), at(d))
		if err := nc.Publish(names.DeploySubject("payments"), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 5*time.Second, "the future-dated NATS event refused and counted", func() bool {
		return testutil.ToFloat64(ix.m.refused.WithLabelValues(SourceNATS, RefusedFuture)) == 1 &&
			testutil.ToFloat64(ix.m.received.WithLabelValues(SourceNATS)) == 1
	})
	c := ix.Correlate(Query{Service: "payments", AlertStart: now.Add(time.Hour)})
	if len(c.Changes) != 1 || c.Changes[0].Version != "in-1m" {
		t.Errorf("payments' changes %+v, want only the one a minute ahead", c.Changes)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 5912: "5,912", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
