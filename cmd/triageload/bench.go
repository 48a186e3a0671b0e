package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
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

// benchOptions are the cluster benchmark's flags.
type benchOptions struct {
	replicas       []int // triaged replica counts, one row each
	streamReplicas []int // nats.replicas values on the cluster, one set of rows each
	embedded       bool  // a row of one replica on the embedded server first
	killNode       bool  // kill one nats-server -9 halfway through each cluster row's sending
	groups         int
	perGroup       int // webhooks in each group
	perWebhook     int // alerts in each webhook
	bin            string
}

// workload is the storm every row sends: the same groups, webhooks and order each time.
func (o benchOptions) workload() storm {
	return storm{name: "Bench", groups: o.groups, perGroup: o.perGroup * o.perWebhook, perWebhook: o.perWebhook}
}

// runBench runs every row on a fresh cluster (or embedded server) and fresh replicas, prints
// each row's details and then the rows as a table, and fails if any row's check failed.
func runBench(o benchOptions) error {
	if o.groups < 1 || o.perGroup < 1 || o.perWebhook < 1 {
		return fmt.Errorf("-groups, -webhooks-per-group and -alerts-per-webhook must be positive")
	}
	rows := o.setups()
	if o.bin == "" && slices.ContainsFunc(rows, func(s benchSetup) bool { return s.streamReplicas > 0 }) {
		dir, err := os.MkdirTemp("", "triageload-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		var berr error
		if o.bin, berr = buildNATSServer(dir); berr != nil {
			return berr
		}
	}
	w := o.workload()
	fmt.Printf("workload: %d alerts in %d groups, as %d webhooks of %d alerts (%d per group, shuffled), from %d senders spread at random over the replicas; load average %s\n",
		w.groups*w.perGroup, w.groups, w.groups*w.perGroup/w.perWebhook, w.perWebhook, o.perGroup, senders, loadAverage())
	var done []*benchRow
	for _, s := range rows {
		r, err := runBenchRow(s, w, o.bin)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		r.print()
		done = append(done, r)
	}
	fmt.Printf("\nload average after the runs: %s\n\n", loadAverage())
	fmt.Print(benchTable(done))
	for _, r := range done {
		if len(r.problems) > 0 {
			return fmt.Errorf("a check failed")
		}
	}
	return nil
}

// benchSetup is one row of the benchmark.
type benchSetup struct {
	replicas       int  // triaged replicas, each a whole app in this process
	streamReplicas int  // nats.replicas on the three-node cluster; 0: the embedded server
	killNode       bool // one nats-server killed -9 and restarted halfway through sending
}

func (s benchSetup) String() string {
	if s.streamReplicas == 0 {
		return fmt.Sprintf("%d replica on embedded NATS", s.replicas)
	}
	kill := ""
	if s.killNode {
		kill = ", one node killed -9 midway"
	}
	return fmt.Sprintf("%d replica(s) on the 3-node cluster, R%d streams%s", s.replicas, s.streamReplicas, kill)
}

// setups are the rows in the order they run: the embedded row, then per stream replication
// every replica count.
func (o benchOptions) setups() []benchSetup {
	var rows []benchSetup
	if o.embedded {
		rows = append(rows, benchSetup{replicas: 1})
	}
	for _, sr := range o.streamReplicas {
		for _, n := range o.replicas {
			rows = append(rows, benchSetup{replicas: n, streamReplicas: sr, killNode: o.killNode})
		}
	}
	return rows
}

// killedNode is the node a row with killNode kills; the tool's observer connects to node 0.
const killedNode = 1

// runBenchRow sends the workload to a fresh set of replicas and checks the result.
func runBenchRow(s benchSetup, w storm, bin string) (*benchRow, error) {
	runtime.GC()
	debug.FreeOSMemory() // what an earlier row left must not count in this one's peak
	r := &benchRow{setup: s, webhooks: w.groups * w.perGroup / w.perWebhook, alerts: w.groups * w.perGroup, load: loadAverage()}
	var cl *natsCluster
	// Errors only: replicas losing compare-and-set races warn at every retry, counted below instead.
	opts := app.Options{ListenAddress: "127.0.0.1:0", Stdout: io.Discard,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	dir, err := os.MkdirTemp("", "triageload-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if s.streamReplicas == 0 {
		opts.StoragePath = filepath.Join(dir, "data")
	} else {
		if cl, err = startCluster(bin); err != nil {
			return nil, err
		}
		defer cl.stop()
		opts.NATSURL = cl.urls()
		opts.ConfigFile = filepath.Join(dir, "triaged.yml")
		if err := os.WriteFile(opts.ConfigFile, fmt.Appendf(nil, "nats:\n  replicas: %d\n", s.streamReplicas), 0o644); err != nil {
			return nil, err
		}
	}
	if err := resetPeakRSS(); err != nil {
		r.notes = append(r.notes, fmt.Sprintf("peak RSS not reset (%v): it may include an earlier row", err))
	}

	ctx, cancel := context.WithCancel(context.Background())
	var apps []*app.App
	var running sync.WaitGroup
	defer func() {
		cancel()
		running.Wait()
	}()
	for range s.replicas {
		a, err := app.New(ctx, opts)
		// triaged stops its start on a 4xx of JetStream, and a cluster under load may take a peer
		// for offline for a moment after it could place an R3 stream: try again, and say so.
		for try := 1; err != nil && strings.Contains(err.Error(), "no suitable peers") && try < 5; try++ {
			r.notes = append(r.notes, fmt.Sprintf("replica start tried again: %v", err))
			time.Sleep(time.Second)
			a, err = app.New(ctx, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("replica start: %w", err)
		}
		apps = append(apps, a)
		running.Go(func() {
			if err := a.Run(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "triaged shutdown:", err)
			}
		})
	}
	for i, a := range apps {
		for deadline := time.Now().Add(clusterReadyWithin); a.Ready(ctx) != nil; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("replica %d not ready within %s: %v", i, clusterReadyWithin, a.Ready(ctx))
			}
		}
	}

	obs := apps[0].Conn()
	if cl != nil {
		// Node 0 first and kept: the node killed midway is another, so the tool's own reading
		// goes on undisturbed.
		if obs, err = nats.Connect(cl.urls(), nats.DontRandomize(), nats.MaxReconnects(-1)); err != nil {
			return nil, fmt.Errorf("the tool's NATS connection: %w", err)
		}
		defer obs.Close()
	}
	names := broker.MustNames(apps[0].Config().NATS.Prefix)
	js, err := jetstream.New(obs)
	if err != nil {
		return nil, err
	}
	// An ordered consumer misses nothing (a core subscription may, before its interest has
	// reached every node), and each opening is timed by the stream's own timestamp: when it was
	// stored, however late the tool reads it.
	lat := newLatencies(w)
	var oc jetstream.Consumer
	if err := retry("reading the reports stream", func() (err error) {
		oc, err = js.OrderedConsumer(ctx, names.ReportsStream(), jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{names.Prefix() + ".reports." + string(triaged.EventOpened) + ".>"}})
		return err
	}); err != nil {
		return nil, err
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		var rep struct {
			GroupKey string `json:"group_key"`
		}
		if err == nil && json.Unmarshal(m.Data(), &rep) == nil {
			lat.opened(rep.GroupKey, md.Timestamp)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("reading the reports stream: %w", err)
	}
	defer cc.Stop()

	var pids []string
	if cl != nil {
		pids = cl.pids()
	}
	start := time.Now()
	cpu0, natsCPU0 := cpuTime("self"), sumCPU(pids)
	var midway func()
	if s.killNode && cl != nil {
		midway = func() {
			at := time.Since(start)
			cl.kill(killedNode)
			err := cl.restart(killedNode)
			r.notes = append(r.notes, fmt.Sprintf("nats-server n%d killed -9 %s after the first webhook, restarted and the cluster ready again %s after (err %v); its CPU before the kill is not counted",
				killedNode, at.Round(time.Millisecond), (time.Since(start)-at).Round(time.Millisecond), err))
		}
	}
	var refusal string
	r.refused, r.failed, refusal = sendSpread(apps, w, lat, midway)
	if refusal != "" {
		r.notes = append(r.notes, "first refusal: "+refusal)
	}
	r.sendTime = time.Since(start)

	var reached time.Time
	for deadline := time.Now().Add(settleTimeout); ; time.Sleep(100 * time.Millisecond) {
		n, err := openedOnStream(ctx, js, names)
		if err == nil && n >= w.groups {
			reached = time.Now()
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !reached.IsZero() && lat.count() < w.groups && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // the consumer reading the last of them
	}
	if cl != nil {
		pids = cl.pids() // the restarted node's process too
	}
	r.cpu, r.natsCPU = cpuTime("self")-cpu0, sumCPU(pids)-natsCPU0
	r.latencies, r.lastOpening = lat.result(start, reached)
	if n := w.groups - len(r.latencies); n > 0 && !reached.IsZero() {
		r.notes = append(r.notes, fmt.Sprintf("%d openings not read from the stream (latencies over the rest); the last opening is when the stream was found to hold them all", n))
	}

	r.check = &result{storm: w}
	r.check.checkMembers(ctx, obs, names, w)
	r.triagedIn = time.Since(start)
	if err := retry("counting the reports", func() error {
		r.check.onStream, r.check.maxUpdated = 0, 0
		return r.check.countStream(ctx, obs, names)
	}); err != nil {
		return nil, err
	}
	sinks := func() (n int) {
		for _, a := range apps {
			n += delivered(a)
		}
		return n
	}
	for deadline := time.Now().Add(settleTimeout); sinks() < r.check.onStream && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	r.sinks = sinks()
	for _, a := range apps {
		r.retried += counter(a, "triaged_messages_retried_total")
	}
	r.peak = peakRSS("self")
	for _, pid := range pids {
		r.natsPeak = max(r.natsPeak, peakRSS(pid))
	}
	r.verify(w)
	return r, nil
}

// sendSpread posts every webhook of the workload from the concurrent senders, each to the
// replica spread picked for it, as a load balancer would; one refused (503, or no answer) is
// sent again 100 ms later to the next replica, as Alertmanager retries through the load balancer,
// for up to settleTimeout. midway, if any, runs in its own goroutine once half the webhooks are
// accepted. It returns how many posts were refused, how many webhooks never got accepted, and
// why the first refused post was.
func sendSpread(apps []*app.App, w storm, lat *latencies, midway func()) (refused, failed int, first string) {
	refs := w.plan(orderShuffled)
	targets := spread(len(refs), len(apps), 1)
	var urls []string
	for _, a := range apps {
		urls = append(urls, "http://"+a.Addr().String()+"/api/v1/alerts")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	startsAt := time.Now().Add(-time.Minute)
	var next, accepted, nRefused, nFailed atomic.Int64
	var wg, mid sync.WaitGroup
	var firstOnce sync.Once
	for range senders {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(refs)); i = next.Add(1) - 1 {
				ref := refs[i]
				body := w.group(ref.group).webhook(ref.first, w.perWebhook, startsAt)
				giveUp := time.Now().Add(settleTimeout)
				for try := 0; ; try++ {
					lat.sent(ref.group, time.Now())
					resp, err := client.Post(urls[(targets[i]+try)%len(urls)], "application/json", bytes.NewReader(body))
					why := fmt.Sprint(err)
					if err == nil {
						reply, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
						why = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(reply))
					}
					firstOnce.Do(func() { first = why })
					if err == nil && resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(giveUp) {
						nFailed.Add(1)
						break
					}
					nRefused.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
				if accepted.Add(1) == int64(len(refs)/2) && midway != nil {
					mid.Go(midway)
				}
			}
		})
	}
	wg.Wait()
	mid.Wait()
	return int(nRefused.Load()), int(nFailed.Load()), first
}

// retry calls f until it succeeds, for up to 15 s: a cluster that could place streams a moment
// ago may still answer a JetStream request with no responders while a leader is elected.
func retry(what string, f func() error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// openedOnStream counts the opening reports on the reports stream, by subject.
func openedOnStream(ctx context.Context, js jetstream.JetStream, names broker.Names) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, names.ReportsStream())
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(names.Prefix()+".reports."+string(triaged.EventOpened)+".>"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n, nil
}

func sumCPU(pids []string) (d time.Duration) {
	for _, p := range pids {
		d += cpuTime(p)
	}
	return d
}

// loadAverage is the 1-, 5- and 15-minute load average, from /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	var one, five, fifteen string
	fmt.Sscan(string(data), &one, &five, &fifteen)
	return one + " " + five + " " + fifteen
}
