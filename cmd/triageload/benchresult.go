package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/triaged/triaged"
)

// benchRow is what one row of the cluster benchmark did.
type benchRow struct {
	setup            benchSetup
	webhooks, alerts int
	load             string // load average when the row began

	refused  int // posts answered 503 or not at all, and sent again
	failed   int // webhooks never accepted
	sendTime time.Duration

	latencies   []time.Duration // webhook → opening, sorted, one per opening read from the stream
	lastOpening time.Duration   // from the first webhook to the last opening

	check     *result // the incidents bucket and the reports stream, read after the run
	triagedIn time.Duration
	sinks     int // reports the replicas' sinks delivered, between them
	retried   int // alert messages handed back for a retry, most after a lost compare-and-set race

	peak, natsPeak int64         // this process's peak RSS; the largest node's
	cpu, natsCPU   time.Duration // to the last opening: this process; the nodes together

	notes    []string
	problems []string
}

// webhooksPerSecond is the rate at which the replicas accepted the workload's webhooks.
func (r *benchRow) webhooksPerSecond() float64 {
	if r.sendTime <= 0 {
		return 0
	}
	return float64(r.webhooks-r.failed) / r.sendTime.Seconds()
}

func (r *benchRow) alertsPerSecond() float64 {
	if r.webhooks == 0 {
		return 0
	}
	return r.webhooksPerSecond() * float64(r.alerts) / float64(r.webhooks)
}

// quantile is the p-quantile of the latencies (nearest rank), 0 when there are none.
func (r *benchRow) quantile(p float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	return r.latencies[min(n-1, int(p*float64(n)))]
}

// verify records every way the row falls short: each group opened exactly once with all its
// alerts, every webhook accepted, every report delivered.
func (r *benchRow) verify(w storm) {
	fail := func(format string, a ...any) { r.problems = append(r.problems, fmt.Sprintf(format, a...)) }
	c := r.check
	if r.failed > 0 {
		fail("%d webhooks never accepted", r.failed)
	}
	if n := c.byEvent[triaged.EventOpened]; n != w.groups || c.openedIDs != w.groups {
		fail("%d opened reports for %d incidents on the reports stream, want exactly %d", n, c.openedIDs, w.groups)
	}
	if c.incidents != w.groups || c.complete != w.groups || c.strays > 0 {
		fail("%d incidents in the bucket, %d of %d groups with every alert a member, %d stray members; want one incident per group with all its alerts",
			c.incidents, c.complete, w.groups, c.strays)
	}
	if r.lastOpening == 0 {
		fail("not every group opened within %s after sending", settleTimeout)
	}
	if r.sinks < c.onStream {
		fail("the sinks delivered %d of %d reports", r.sinks, c.onStream)
	}
	r.problems = append(r.problems, c.problems...) // the members check's own
}

func (r *benchRow) print() {
	c := r.check
	fmt.Printf("%s (load average %s):\n", r.setup, r.load)
	fmt.Printf("  %d webhooks (%d alerts) accepted in %s: %.0f webhooks/s, %.0f alerts/s; %d posts refused and sent again, %d never accepted\n",
		r.webhooks-r.failed, r.alerts, r.sendTime.Round(time.Millisecond), r.webhooksPerSecond(), r.alertsPerSecond(), r.refused, r.failed)
	fmt.Printf("  last opening %s after the first webhook; webhook→opening p50 %s, p99 %s, max %s (%d openings read from the stream)\n",
		r.lastOpening.Round(time.Millisecond), r.quantile(.5).Round(time.Millisecond), r.quantile(.99).Round(time.Millisecond),
		r.quantile(1).Round(time.Millisecond), len(r.latencies))
	fmt.Printf("  reports stream: %d opened for %d incidents, %d reports in all; incidents bucket: %d incidents, %d/%d alerts members, checked %s after the first webhook; sinks delivered %d; %d alert messages retried (compare-and-set races)\n",
		c.byEvent[triaged.EventOpened], c.openedIDs, c.onStream, c.incidents, c.members, r.alerts, r.triagedIn.Round(time.Millisecond), r.sinks, r.retried)
	fmt.Printf("  CPU to the last opening: triaged replicas and the tool %s, nats-server(s) %s; peak RSS %s (replicas and tool, one process), largest nats-server %s\n",
		r.cpu.Round(10*time.Millisecond), r.natsCPU.Round(10*time.Millisecond), mb(r.peak), mb(r.natsPeak))
	for _, n := range r.notes {
		fmt.Println("  note: " + n)
	}
	for _, p := range r.problems {
		fmt.Println("  FAIL: " + p)
	}
}

// benchTable is the rows as a Markdown table, as the README shows them.
func benchTable(rows []*benchRow) string {
	var b strings.Builder
	b.WriteString("| triaged replicas | NATS | webhooks/s | alerts/s | last opening | p50 | p99 | CPU: replicas+tool / nats-servers | peak RSS: replicas+tool / largest nats-server | check |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		nats := "embedded"
		if r.setup.streamReplicas > 0 {
			nats = fmt.Sprintf("3 nodes, R%d", r.setup.streamReplicas)
			if r.setup.killNode {
				nats += ", node killed"
			}
		}
		verdict := "ok"
		if len(r.problems) > 0 {
			verdict = "FAILED"
		}
		natsCPU, natsPeak := "in process", "in process"
		if r.setup.streamReplicas > 0 {
			natsCPU, natsPeak = fmt.Sprintf("%.1f s", r.natsCPU.Seconds()), mb(r.natsPeak)
		}
		fmt.Fprintf(&b, "| %d | %s | %.0f | %.0f | %.2f s | %s | %s | %.1f s / %s | %s / %s | %s |\n",
			r.setup.replicas, nats, r.webhooksPerSecond(), r.alertsPerSecond(), r.lastOpening.Seconds(),
			r.quantile(.5).Round(time.Millisecond), r.quantile(.99).Round(time.Millisecond),
			r.cpu.Seconds(), natsCPU, mb(r.peak), natsPeak, verdict)
	}
	return b.String()
}

// spread picks the replica each of n webhooks goes to, at random as a load balancer would, the
// same for every row with the same seed and replica count.
func spread(n, replicas int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, uint64(replicas)))
	targets := make([]int, n)
	for i := range targets {
		targets[i] = rng.IntN(replicas)
	}
	return targets
}

// latencies times each group from the first post of any of its webhooks to its opening report.
type latencies struct {
	keys  map[string]int // group key → group
	first []atomic.Int64 // Unix nanoseconds of a group's first post; 0 before it

	mu   sync.Mutex
	seen []bool
	lats []time.Duration
	last time.Time
}

func newLatencies(w storm) *latencies {
	l := &latencies{keys: make(map[string]int, w.groups), first: make([]atomic.Int64, w.groups), seen: make([]bool, w.groups)}
	for g := range w.groups {
		l.keys[w.group(g).key()] = g
	}
	return l
}

// sent notes a post of one of group g's webhooks; only the first counts.
func (l *latencies) sent(g int, t time.Time) { l.first[g].CompareAndSwap(0, t.UnixNano()) }

// opened notes the opening report of the group with key at t; one published twice, or of a
// group not in the workload, is ignored.
func (l *latencies) opened(key string, t time.Time) {
	g, ok := l.keys[key]
	if !ok {
		return
	}
	t0 := l.first[g].Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[g] || t0 == 0 {
		return
	}
	l.seen[g] = true
	l.lats = append(l.lats, t.Sub(time.Unix(0, t0)))
	if t.After(l.last) {
		l.last = t
	}
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lats)
}

// result is the latencies sorted and the time from start to the last opening: the last seen
// read when every group's was, else reached, when the stream was found to hold them all (zero if
// it never did).
func (l *latencies) result(start, reached time.Time) ([]time.Duration, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lats := slices.Clone(l.lats)
	slices.Sort(lats)
	switch {
	case len(lats) == len(l.seen) && len(lats) > 0:
		return lats, l.last.Sub(start)
	case !reached.IsZero():
		return lats, reached.Sub(start)
	}
	return lats, 0
}
