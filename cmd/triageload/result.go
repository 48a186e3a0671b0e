package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
)

// result is what one storm did, as measured and as found on the streams and in the bucket.
type result struct {
	storm storm
	order string

	sent     atomic.Int64 // webhooks posted
	failed   int          // webhooks not answered 200
	sendTime time.Duration
	retried  int // alert messages handed back for a retry, most after losing a compare-and-set race

	lastOpening time.Duration // from the first webhook to the last opening report published

	// From the incidents bucket.
	incidents int // incidents (state keys g.*)
	members   int // alerts found as members of their own group's incident
	complete  int // groups whose one incident holds every alert of the group
	strays    int // members in an incident of another group, or twice
	triagedIn time.Duration

	// From the reports stream.
	onStream   int
	byEvent    map[triaged.Event]int
	openedIDs  int // distinct incidents with an opening report
	maxUpdated int // most updated reports of one incident

	sinks   int
	sinksIn time.Duration

	peak, natsPeak int64
	// CPU time of this process (triaged and the tool) and of nats-server, from the first webhook
	// to the wait for the last opening ending, and to the members check.
	cpuOpening, natsCPUOpening time.Duration
	cpuTriaged, natsCPUTriaged time.Duration

	notes    []string
	problems []string
}

// checkMembers waits until the triage consumer has handed out every message and the incidents
// bucket holds every alert of the storm as a member of its group's incident, or until
// settleTimeout; it records what it last found.
func (r *result) checkMembers(ctx context.Context, nc *nats.Conn, names broker.Names, s storm) {
	js, err := jetstream.New(nc)
	if err != nil {
		r.problems = append(r.problems, err.Error())
		return
	}
	deadline := time.Now().Add(settleTimeout)
	for {
		var info *jetstream.ConsumerInfo
		c, err := js.Consumer(ctx, names.AlertsStream(), names.TriageConsumer())
		if err == nil {
			if info, err = c.Info(ctx); err == nil && info.NumPending == 0 {
				err = r.scanIncidents(ctx, js, names, s)
				if err == nil && r.complete == s.groups && r.incidents == s.groups {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				r.problems = append(r.problems, fmt.Sprintf("reading the incidents: %v", err))
			}
			if info != nil && info.NumPending > 0 {
				r.problems = append(r.problems, fmt.Sprintf("after %s the triage consumer still has %d messages undelivered, %d unacknowledged",
					settleTimeout, info.NumPending, info.NumAckPending))
			}
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// scanIncidents reads every incident of the bucket and checks its members against the groups.
func (r *result) scanIncidents(ctx context.Context, js jetstream.JetStream, names broker.Names, s storm) error {
	kv, err := js.KeyValue(ctx, names.IncidentsBucket())
	if err != nil {
		return err
	}
	keys, err := kv.ListKeysFiltered(ctx, triaged.IncidentStatePrefix+">")
	if err != nil {
		return err
	}
	defer keys.Stop()
	seen := make([][]bool, s.groups)
	incidents := make([]int, s.groups)
	r.incidents, r.members, r.complete, r.strays = 0, 0, 0, 0
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			return fmt.Errorf("get %s: %w", k, err)
		}
		var rec struct {
			GroupKey string           `json:"group_key"`
			Members  []triaged.Member `json:"members"`
		}
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return fmt.Errorf("decode %s: %w", k, err)
		}
		r.incidents++
		gid := -1
		for _, m := range rec.Members {
			id, i, ok := memberOf(m)
			if !ok || id >= s.groups || i >= s.perGroup || s.group(id).key() != rec.GroupKey || gid >= 0 && id != gid {
				r.strays++
				continue
			}
			if gid < 0 {
				gid = id
				incidents[gid]++
				seen[gid] = make([]bool, s.perGroup)
			}
			if seen[gid][i] {
				r.strays++
				continue
			}
			seen[gid][i] = true
			r.members++
		}
	}
	for g := range s.groups {
		if incidents[g] == 1 && !slices.Contains(seen[g], false) {
			r.complete++
		}
	}
	return nil
}

// countStream reads the whole reports stream: the reports by event, the distinct incidents
// opened, and the most updated reports of one incident.
func (r *result) countStream(ctx context.Context, nc *nats.Conn, names broker.Names) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, names.ReportsStream())
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	total := int(info.State.Msgs)
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{names.ReportSubjects()}})
	if err != nil {
		return err
	}
	r.byEvent = map[triaged.Event]int{}
	opened := map[string]bool{}
	updated := map[string]int{}
	prefix := names.Prefix() + ".reports."
	for r.onStream < total {
		batch, err := cons.Fetch(min(1000, total-r.onStream), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			r.onStream++
			ev, _, _ := strings.Cut(strings.TrimPrefix(m.Subject(), prefix), ".")
			r.byEvent[triaged.Event(ev)]++
			id := m.Headers().Get("Triaged-Incident")
			switch triaged.Event(ev) {
			case triaged.EventOpened:
				opened[id] = true
			case triaged.EventUpdated:
				updated[id]++
				r.maxUpdated = max(r.maxUpdated, updated[id])
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("reports stream: read %d of %d messages", r.onStream, total)
		}
	}
	r.openedIDs = len(opened)
	return nil
}

// check compares what was found with the storm's targets.
func (r *result) check() {
	s := r.storm
	fail := func(format string, a ...any) { r.problems = append(r.problems, fmt.Sprintf(format, a...)) }
	if r.failed > 0 {
		fail("%d webhooks not answered 200", r.failed)
	}
	if n := r.byEvent[triaged.EventOpened]; n != s.groups || r.openedIDs != s.groups {
		fail("%d opened reports for %d incidents on the stream, want exactly %d", n, r.openedIDs, s.groups)
	}
	if r.incidents != s.groups || r.complete != s.groups || r.strays > 0 {
		fail("%d incidents in the bucket, %d of %d groups with every alert a member, %d stray members; want one incident per group with all its alerts",
			r.incidents, r.complete, s.groups, r.strays)
	}
	if r.maxUpdated > maxUpdated {
		fail("an incident has %d updated reports, want at most %d", r.maxUpdated, maxUpdated)
	}
	if r.lastOpening == 0 || r.lastOpening > s.lastOpening {
		fail("the last opening came %s after the first webhook, target ≤ %s", r.lastOpening.Round(time.Millisecond), s.lastOpening)
	}
	if r.peak > rssTarget {
		fail("peak RSS %s, target ≤ %s", mb(r.peak), mb(rssTarget))
	}
	if r.sinks < r.onStream {
		fail("the sinks delivered %d of %d reports", r.sinks, r.onStream)
	}
}

func (r *result) print() {
	s := r.storm
	fmt.Printf("storm %s: %d webhooks sent in %s (%d failed); the last opening %s after the first webhook (target ≤ %s)\n",
		s.name, r.sent.Load(), r.sendTime.Round(time.Millisecond), r.failed, r.lastOpening.Round(time.Millisecond), s.lastOpening)
	var events []string
	for _, ev := range []triaged.Event{triaged.EventOpened, triaged.EventUpdated, triaged.EventResolved, triaged.EventReopened} {
		events = append(events, fmt.Sprintf("%d %s", r.byEvent[ev], ev))
	}
	fmt.Printf("  reports stream: %d reports (%s) for %d incidents; most updated reports of one incident: %d (≤ %d)\n",
		r.onStream, strings.Join(events, ", "), r.openedIDs, r.maxUpdated, maxUpdated)
	fmt.Printf("  incidents bucket: %d incidents; %d/%d alerts members of their group's incident (%d groups complete), checked %s after the first webhook\n",
		r.incidents, r.members, s.groups*s.perGroup, r.complete, r.triagedIn.Round(time.Millisecond))
	fmt.Printf("  sinks delivered %d reports by %s; %d alert messages retried (compare-and-set races)\n", r.sinks, r.sinksIn.Round(time.Millisecond), r.retried)
	fmt.Printf("  CPU time: to the last opening, triaged and the tool %s, nats-server %s; to the members check, %s and %s\n",
		r.cpuOpening.Round(10*time.Millisecond), r.natsCPUOpening.Round(10*time.Millisecond), r.cpuTriaged.Round(10*time.Millisecond), r.natsCPUTriaged.Round(10*time.Millisecond))
	fmt.Printf("  peak RSS %s (target ≤ %s; triaged and the tool's own sending, one process); nats-server %s\n", mb(r.peak), mb(rssTarget), mb(r.natsPeak))
	for _, n := range r.notes {
		fmt.Println("  note: " + n)
	}
	for _, p := range r.problems {
		fmt.Println("  FAIL: " + p)
	}
}

func (r *result) summary() string {
	verdict := "ok"
	if len(r.problems) > 0 {
		verdict = "FAILED"
	}
	s := r.storm
	return fmt.Sprintf("storm %s %s: %d/%d opened, %d/%d alerts members, ≤ %d updated per incident, last opening %s (≤ %s), peak RSS %s (≤ %s)",
		s.name, verdict, r.byEvent[triaged.EventOpened], s.groups, r.members, s.groups*s.perGroup, r.maxUpdated,
		r.lastOpening.Round(10*time.Millisecond), s.lastOpening, mb(r.peak), mb(rssTarget))
}
