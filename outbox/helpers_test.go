package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

// env is an in-process NATS with the topology and one sink consumer, "chat".
type env struct {
	t     testing.TB
	ns    *server.Server
	js    jetstream.JetStream
	names broker.Names
	o     broker.TopologyOptions
	topo  *broker.Topology
}

func newEnv(t testing.TB, o broker.TopologyOptions) *env {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	topo, err := broker.Ensure(context.Background(), js, names, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broker.EnsureSinkConsumer(context.Background(), js, names, "chat", 4, o); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ns: ns, js: js, names: names, o: o, topo: topo}
}

// replica is one deliverer on its own connection, as another process would be; crash closes the
// connection under it, so nothing it does afterwards reaches NATS.
type replica struct {
	nc     *nats.Conn
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func (e *env) start(sink notify.Sink, o outbox.Options) *replica {
	e.t.Helper()
	nc, js := natstest.Connect(e.t, e.ns)
	c, err := js.Consumer(context.Background(), e.names.ReportsStream(), e.names.SinkConsumer("chat"))
	if err != nil {
		e.t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), e.names.DeliveriesBucket())
	if err != nil {
		e.t.Fatal(err)
	}
	o.Deliveries = kv
	if o.RetryBackoff == nil {
		o.RetryBackoff = []time.Duration{20 * time.Millisecond}
	}
	r := &replica{nc: nc, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	d := outbox.NewDeliverer(sink, outbox.NewMetrics(r.reg), o)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- d.Run(ctx, c) }()
	e.t.Cleanup(func() { r.stop(e.t) })
	return r
}

func (r *replica) stop(t testing.TB) {
	r.once.Do(func() {
		r.cancel()
		if err := <-r.done; err != nil {
			t.Errorf("deliverer: %v", err)
		}
	})
}

func (r *replica) crash() { r.nc.Close() }

// publish puts reports on the reports stream as triage does, with their ids as message ids.
func (e *env) publish(reps ...*triaged.Report) {
	e.t.Helper()
	for _, rep := range reps {
		data, err := json.Marshal(rep)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.js.Publish(context.Background(), e.names.ReportSubject(rep.Event, rep.Severity), data, jetstream.WithMsgID(rep.ID)); err != nil {
			e.t.Fatal(err)
		}
	}
}

// report is report n of incident inc, as triage names it.
func report(inc string, n int, ev triaged.Event) *triaged.Report {
	now := time.Now()
	return &triaged.Report{ID: fmt.Sprintf("%s.%d.%s", inc, n, ev), IncidentID: inc, Event: ev, Severity: triaged.P2, StartedAt: now.Add(-time.Minute), TriagedAt: now}
}

// post is one message a chat service accepted.
type post struct {
	Report  string
	Root    string // the root it replied in; "" for a root
	ID      string
	Channel string
}

// chat is a test sink that behaves as a chat service with threads: an incident's first report
// posts a root message, later ones reply in the thread they are given. Told an attempt may
// have been posted, it looks for it first, as the real sinks do. hook, when set, runs before
// posting and may fail the attempt; after runs after posting, before Deliver returns.
type chat struct {
	mu     sync.Mutex
	posts  []post
	calls  []notify.Delivery
	at     []time.Time
	hook   func(d notify.Delivery) error
	after  func(d notify.Delivery, th *notify.Thread) (*notify.Thread, error)
	next   int
	active int
	most   int
}

func (c *chat) Name() string { return "chat" }

func (c *chat) Deliver(ctx context.Context, d notify.Delivery) (*notify.Thread, error) {
	c.mu.Lock()
	c.calls = append(c.calls, d)
	c.at = append(c.at, time.Now())
	c.active++
	c.most = max(c.most, c.active)
	hook, after := c.hook, c.after
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.active--; c.mu.Unlock() }()
	if hook != nil {
		if err := hook(d); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	var th *notify.Thread
	found := false
	if d.MaybePosted {
		for _, p := range c.posts {
			if p.Report == d.Report.ID {
				th, found = &notify.Thread{Channel: p.Channel, RootID: p.Root}, true
				if p.Root == "" {
					th.RootID = p.ID
				}
			}
		}
	}
	if !found {
		c.next++
		p := post{Report: d.Report.ID, ID: fmt.Sprint(c.next), Channel: d.Channel}
		if d.Thread != nil {
			p.Root, p.Channel = d.Thread.RootID, d.Thread.Channel
			th = d.Thread
		} else {
			th = &notify.Thread{Channel: d.Channel, RootID: p.ID}
		}
		c.posts = append(c.posts, p)
	}
	c.mu.Unlock()
	if after != nil {
		return after(d, th)
	}
	return th, nil
}

func (c *chat) got() []post {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]post(nil), c.posts...)
}

func (c *chat) attempts() []notify.Delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]notify.Delivery(nil), c.calls...)
}

// retriedAt is when report id was attempted the second time.
func (c *chat) retriedAt(id string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := 0
	for i, d := range c.calls {
		if d.Report.ID == id {
			if seen++; seen == 2 {
				return c.at[i]
			}
		}
	}
	return time.Time{}
}

// checkThreads fails unless every report of want was posted once, each incident's in the order
// given, the first as the root and the others in its thread.
func checkThreads(t *testing.T, posts []post, want map[string][]string) {
	t.Helper()
	byReport := map[string]int{}
	for i, p := range posts {
		if _, dup := byReport[p.Report]; dup {
			t.Errorf("report %s posted twice", p.Report)
		}
		byReport[p.Report] = i
	}
	total := 0
	for inc, ids := range want {
		total += len(ids)
		prev := -1
		var root string
		for k, id := range ids {
			i, ok := byReport[id]
			if !ok {
				t.Errorf("incident %s: report %s never posted", inc, id)
				continue
			}
			if i < prev {
				t.Errorf("incident %s: report %s posted before its predecessor", inc, id)
			}
			prev = i
			switch p := posts[i]; {
			case k == 0 && p.Root != "":
				t.Errorf("incident %s: opening %s posted as a reply to %s", inc, id, p.Root)
			case k == 0:
				root = p.ID
			case p.Root != root:
				t.Errorf("incident %s: %s replied in thread %q, want the root's %q", inc, id, p.Root, root)
			}
		}
	}
	if len(posts) != total {
		t.Errorf("%d posts, want %d", len(posts), total)
	}
}
