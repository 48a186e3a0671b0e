package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
)

func TestSpread(t *testing.T) {
	const n = 12000
	for _, replicas := range []int{1, 2, 3} {
		got := spread(n, replicas, 1)
		if !slices.Equal(got, spread(n, replicas, 1)) {
			t.Errorf("%d replicas: two spreads with the same seed differ", replicas)
		}
		counts := make([]int, replicas)
		for _, r := range got {
			if r < 0 || r >= replicas {
				t.Fatalf("%d replicas: target %d", replicas, r)
			}
			counts[r]++
		}
		for r, c := range counts {
			if want := n / replicas; c < want*95/100 || c > want*105/100 {
				t.Errorf("%d replicas: replica %d gets %d of %d webhooks, want within 5 %% of %d", replicas, r, c, n, want)
			}
		}
	}
	if slices.Equal(spread(100, 3, 1), spread(100, 3, 2)) {
		t.Error("different seeds give the same spread")
	}
}

func TestLatencies(t *testing.T) {
	w := storm{name: "T", groups: 3, perGroup: 2, perWebhook: 1}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	key := func(g int) string { return w.group(g).key() }

	l := newLatencies(w)
	l.sent(0, at(10))
	l.sent(0, at(20)) // a later webhook of the group, or a retry: the first post counts
	l.sent(1, at(30))
	l.opened(key(0), at(110))
	l.opened(key(0), at(500)) // published twice
	l.opened("{}:{alertname=\"Other\"}", at(120))
	l.opened(key(2), at(130)) // never sent: not timed
	l.opened(key(1), at(80))
	lats, last := l.result(t0, time.Time{})
	if want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}; !slices.Equal(lats, want) || last != 0 {
		t.Errorf("two of three opened: %v, last %s; want %v and no last opening", lats, last, want)
	}
	if _, last := l.result(t0, at(900)); last != 900*time.Millisecond {
		t.Errorf("two of three read, the stream holding all at 900ms: last %s", last)
	}
	l.sent(2, at(40))
	l.opened(key(2), at(240))
	lats, last = l.result(t0, at(900))
	if len(lats) != 3 || lats[2] != 200*time.Millisecond || last != 240*time.Millisecond || l.count() != 3 {
		t.Errorf("all read: %v, last %s, count %d; want the last opening at 240ms", lats, last, l.count())
	}
}

func TestBenchRowFigures(t *testing.T) {
	r := &benchRow{webhooks: 4000, alerts: 40000, failed: 0, sendTime: 8 * time.Second}
	for i := 100; i >= 1; i-- {
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	slices.Sort(r.latencies)
	if r.webhooksPerSecond() != 500 || r.alertsPerSecond() != 5000 {
		t.Errorf("rates %v, %v; want 500 and 5000", r.webhooksPerSecond(), r.alertsPerSecond())
	}
	if r.quantile(.5) != 51*time.Millisecond || r.quantile(.99) != 100*time.Millisecond || r.quantile(1) != 100*time.Millisecond {
		t.Errorf("quantiles %s %s %s", r.quantile(.5), r.quantile(.99), r.quantile(1))
	}
	if (&benchRow{}).quantile(.5) != 0 || (&benchRow{}).webhooksPerSecond() != 0 || (&benchRow{}).alertsPerSecond() != 0 {
		t.Error("an empty row has figures")
	}
}

func TestBenchRowVerify(t *testing.T) {
	w := storm{name: "T", groups: 10, perGroup: 4, perWebhook: 2}
	good := func() *benchRow {
		return &benchRow{lastOpening: time.Second, sinks: 10, check: &result{
			byEvent: map[triaged.Event]int{triaged.EventOpened: 10}, openedIDs: 10, onStream: 10,
			incidents: 10, complete: 10, members: 40}}
	}
	for _, tc := range []struct {
		name  string
		spoil func(r *benchRow)
		want  string
	}{
		{"all well", func(*benchRow) {}, ""},
		{"opened twice", func(r *benchRow) { r.check.byEvent[triaged.EventOpened] = 11 }, "11 opened reports for 10 incidents"},
		{"one group in two incidents", func(r *benchRow) { r.check.incidents, r.check.complete = 11, 9 }, "11 incidents in the bucket, 9 of 10 groups"},
		{"a stray", func(r *benchRow) { r.check.strays = 1 }, "1 stray members"},
		{"a webhook lost", func(r *benchRow) { r.failed = 1 }, "1 webhooks never accepted"},
		{"not all opened", func(r *benchRow) { r.lastOpening = 0 }, "not every group opened"},
		{"a report not delivered", func(r *benchRow) { r.sinks = 9 }, "the sinks delivered 9 of 10"},
		{"the members check's own", func(r *benchRow) { r.check.problems = []string{"consumer stuck"} }, "consumer stuck"},
	} {
		r := good()
		tc.spoil(r)
		r.verify(w)
		got := strings.Join(r.problems, "; ")
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSetups(t *testing.T) {
	o := benchOptions{replicas: []int{1, 3}, streamReplicas: []int{1, 3}, embedded: true, killNode: true}
	want := []benchSetup{{replicas: 1}, {1, 1, true}, {3, 1, true}, {1, 3, true}, {3, 3, true}}
	if got := o.setups(); !slices.Equal(got, want) {
		t.Errorf("setups %v, want %v", got, want)
	}
	var lines []string
	for _, s := range want {
		r := &benchRow{setup: s, webhooks: 10, alerts: 100, sendTime: time.Second, lastOpening: 1500 * time.Millisecond}
		lines = append(lines, strings.Split(strings.TrimSpace(benchTable([]*benchRow{r})), "\n")[2])
	}
	for i, want := range map[int]string{0: "| 1 | embedded | 10 | 100 | 1.50 s |", 1: "| 1 | 3 nodes, R1, node killed |", 4: "| 3 | 3 nodes, R3, node killed |"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("table row %q, want it to begin %q", lines[i], want)
		}
	}
}

func TestParseCounts(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []int
		err  string
	}{
		{"1,2,3", []int{1, 2, 3}, ""},
		{" 3 , 1", []int{3, 1}, ""},
		{"1,,3", nil, `-replicas: "" is not a count from 1 to 3`},
		{"0", nil, `-replicas: "0" is not a count from 1 to 3`},
		{"4", nil, `-replicas: "4" is not a count from 1 to 3`},
		{"two", nil, `-replicas: "two" is not a count from 1 to 3`},
	} {
		got, err := parseCounts("-replicas", tc.list, 1, 3)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.list, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.list, got, err, tc.want)
		}
	}
}
