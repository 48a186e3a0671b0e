package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
)

// storm is one burst of webhooks and its targets.
type storm struct {
	name       string
	groups     int
	perGroup   int // alerts in each group
	perWebhook int // alerts in each webhook
	// lastOpening is the target time from the first webhook to the last opening report.
	lastOpening time.Duration
}

var storms = map[string]storm{
	"A": {name: "A", groups: 1000, perGroup: 100, perWebhook: 10, lastOpening: 10 * time.Second},
	"B": {name: "B", groups: 10000, perGroup: 1, perWebhook: 1, lastOpening: 8 * time.Second},
}

const (
	senders = 8 // concurrent HTTP senders, as several Alertmanagers (or one with many groups) would
	// maxUpdated is the most updated reports an incident may have in a storm.
	maxUpdated = 2
	// rssTarget bounds the peak RSS of the process: triaged and the tool's own sending.
	rssTarget = 200 << 20
	// settleTimeout bounds each wait after sending: for the openings, the members, the sinks.
	settleTimeout = 60 * time.Second
)

const (
	orderShuffled    = "shuffled"
	orderGrouped     = "grouped"
	orderInterleaved = "interleaved"
)

// runStorms runs the named storms one after the other, each on a fresh nats-server and triaged,
// and fails if any check of any storm failed.
func runStorms(names []string, order, bin, configFile string) error {
	var todo []storm
	for _, n := range names {
		s, ok := storms[strings.ToUpper(strings.TrimSpace(n))]
		if !ok {
			return fmt.Errorf("-storm: unknown storm %q: want A or B", n)
		}
		todo = append(todo, s)
	}
	if order != orderShuffled && order != orderGrouped && order != orderInterleaved {
		return fmt.Errorf("-order: %q is none of %s, %s, %s", order, orderShuffled, orderGrouped, orderInterleaved)
	}
	if bin == "" {
		dir, err := os.MkdirTemp("", "triageload-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if bin, err = buildNATSServer(dir); err != nil {
			return err
		}
	}
	var summary []string
	failed := false
	for _, s := range todo {
		r, err := runStorm(s, order, bin, configFile)
		if err != nil {
			return fmt.Errorf("storm %s: %w", s.name, err)
		}
		r.print()
		summary = append(summary, r.summary())
		failed = failed || len(r.problems) > 0
	}
	fmt.Println("summary: " + strings.Join(summary, "; "))
	if failed {
		return fmt.Errorf("a check failed")
	}
	return nil
}

// counts are the reports seen on the reports subjects as they are published. A report may be
// published twice (a worker that lost a compare-and-set race publishes the winner's outbox
// again; the stream keeps one), so each is counted once, by its id.
type counts struct {
	mu          sync.Mutex
	seen        map[string]bool // report ids
	byEvent     map[triaged.Event]int
	lastOpening time.Time // when the last new opening was seen
}

func (c *counts) add(ev triaged.Event, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[id] {
		return
	}
	c.seen[id] = true
	c.byEvent[ev]++
	if ev == triaged.EventOpened {
		c.lastOpening = time.Now()
	}
}

func (c *counts) get(ev triaged.Event) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byEvent[ev]
}

// runStorm sends one storm to a fresh triaged on a fresh nats-server, then checks the result.
func runStorm(s storm, order, bin, configFile string) (*result, error) {
	runtime.GC()
	debug.FreeOSMemory() // what an earlier storm left must not count in this one's peak
	ns, err := startNATSServer(bin)
	if err != nil {
		return nil, err
	}
	defer ns.stop()
	r := &result{storm: s, order: order}
	if err := resetPeakRSS(); err != nil {
		r.notes = append(r.notes, fmt.Sprintf("peak RSS not reset (%v): it may include an earlier storm", err))
	}

	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{
		ListenAddress: "127.0.0.1:0",
		NATSURL:       ns.url,
		ConfigFile:    configFile,
		Stdout:        io.Discard,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		cancel()
		return nil, err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			fmt.Fprintln(os.Stderr, "triaged shutdown:", err)
		}
	}()
	for deadline := time.Now().Add(15 * time.Second); a.Ready(ctx) != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("triaged not ready within 15s: %v", a.Ready(ctx))
		}
	}

	// The tool watches on a connection of its own, as any consumer of the reports would.
	obs, err := nats.Connect(ns.url)
	if err != nil {
		return nil, err
	}
	defer obs.Close()
	names := broker.MustNames(a.Config().NATS.Prefix)
	c := &counts{seen: map[string]bool{}, byEvent: map[triaged.Event]int{}}
	prefix := names.Prefix() + ".reports."
	sub, err := obs.Subscribe(names.ReportSubjects(), func(m *nats.Msg) {
		ev, _, _ := strings.Cut(strings.TrimPrefix(m.Subject, prefix), ".")
		c.add(triaged.Event(ev), m.Header.Get(jetstream.MsgIDHeader))
	})
	if err != nil {
		return nil, err
	}
	_ = sub.SetPendingLimits(-1, -1)
	defer sub.Unsubscribe()

	fmt.Printf("storm %s: %d alerts in %d groups of %d, as %d-alert webhooks (%s) from %d senders, to triaged on nats-server %s\n",
		s.name, s.groups*s.perGroup, s.groups, s.perGroup, s.perWebhook, order, senders, ns.url)
	start := time.Now()
	cpu0, natsCPU0 := cpuTime("self"), cpuTime(ns.pid())
	stopProgress := progress(start, s, c, &r.sent, ns)
	r.send(a, s, order, start)
	r.sendTime = time.Since(start)

	// The openings, then every alert in its incident, then the sinks.
	for deadline := time.Now().Add(settleTimeout); c.get(triaged.EventOpened) < s.groups && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	r.cpuOpening, r.natsCPUOpening = cpuTime("self")-cpu0, cpuTime(ns.pid())-natsCPU0
	c.mu.Lock()
	if !c.lastOpening.IsZero() {
		r.lastOpening = c.lastOpening.Sub(start)
	}
	c.mu.Unlock()
	r.checkMembers(ctx, obs, names, s)
	r.triagedIn = time.Since(start)
	r.cpuTriaged, r.natsCPUTriaged = cpuTime("self")-cpu0, cpuTime(ns.pid())-natsCPU0
	stopProgress()
	if err := r.countStream(ctx, obs, names); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(settleTimeout); delivered(a) < r.onStream && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	r.sinks, r.sinksIn = delivered(a), time.Since(start)
	r.retried = counter(a, "triaged_messages_retried_total")
	r.peak, r.natsPeak = peakRSS("self"), peakRSS(ns.pid())
	r.check()
	return r, nil
}

// progress prints a line every 2 s until the returned function is called.
func progress(start time.Time, s storm, c *counts, sent *atomic.Int64, ns *natsServer) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Printf("  %5.1fs: %d/%d webhooks sent, %d opened, %d updated; RSS %s (nats-server %s)\n",
					time.Since(start).Seconds(), sent.Load(), s.groups*s.perGroup/s.perWebhook,
					c.get(triaged.EventOpened), c.get(triaged.EventUpdated), mb(rss("self")), mb(rss(ns.pid())))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// webhookRef is one webhook of a storm: a group and its first alert.
type webhookRef struct{ group, first int }

// plan orders the storm's webhooks.
func (s storm) plan(order string) []webhookRef {
	per := s.perGroup / s.perWebhook
	refs := make([]webhookRef, 0, s.groups*per)
	if order == orderInterleaved {
		for w := range per {
			for g := range s.groups {
				refs = append(refs, webhookRef{g, w * s.perWebhook})
			}
		}
		return refs
	}
	for g := range s.groups {
		for w := range per {
			refs = append(refs, webhookRef{g, w * s.perWebhook})
		}
	}
	if order == orderShuffled {
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
	}
	return refs
}

func (s storm) group(id int) group { return group{alertname: "Storm" + s.name, id: id} }

// send posts every webhook of the plan from the concurrent senders, each building its webhook
// just before posting it.
func (r *result) send(a *app.App, s storm, order string, start time.Time) {
	refs := s.plan(order)
	url := "http://" + a.Addr().String() + "/api/v1/alerts"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: 30 * time.Second}
	startsAt := start.Add(-time.Minute)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(refs)); i = next.Add(1) - 1 {
				ref := refs[i]
				body := s.group(ref.group).webhook(ref.first, s.perWebhook, startsAt)
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1) // Alertmanager would retry; the members check will miss its alerts
				}
				r.sent.Add(1)
			}
		})
	}
	wg.Wait()
	client.CloseIdleConnections()
	r.failed = int(failed.Load())
}
