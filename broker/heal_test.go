package broker_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
)

// A stream, consumer or bucket deleted under a running consumer loop is reported missing, then
// recreated with the configured topology, and the loop goes on with the alerts sent after.
func TestDeletedObjectsAreRecreatedAndTriageResumes(t *testing.T) {
	names := broker.MustNames("triaged")
	tests := []struct {
		name    string
		delete  func(ctx context.Context, js jetstream.JetStream) error
		missing string
	}{
		{"triage consumer", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteConsumer(ctx, names.AlertsStream(), names.TriageConsumer())
		}, "consumer triaged-triage on TRIAGED_ALERTS"},
		{"timers consumer", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteConsumer(ctx, names.AlertsStream(), names.TimerConsumer())
		}, "consumer triaged-timers on TRIAGED_ALERTS"},
		{"sink consumer", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteConsumer(ctx, names.ReportsStream(), names.SinkConsumer("chat"))
		}, "consumer triaged-sink-chat on TRIAGED_REPORTS"},
		{"alerts stream", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, names.AlertsStream())
		}, "stream TRIAGED_ALERTS"},
		{"dead letters stream", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, names.DeadLettersStream())
		}, "stream TRIAGED_DEADLETTERS"},
		{"deploys stream", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, names.DeploysStream())
		}, "stream TRIAGED_DEPLOYS"},
		{"incidents bucket", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteKeyValue(ctx, names.IncidentsBucket())
		}, "bucket TRIAGED_INCIDENTS"},
		{"deliveries bucket", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteKeyValue(ctx, names.DeliveriesBucket())
		}, "bucket TRIAGED_DELIVERIES"},
		{"graphs bucket", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteKeyValue(ctx, names.GraphsBucket())
		}, "bucket TRIAGED_GRAPHS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ns := natstest.Server(t)
			nc, js := natstest.Connect(t, ns)
			o := broker.DefaultTopologyOptions()
			repair := func(ctx context.Context) error {
				if _, err := broker.Ensure(ctx, js, names, o); err != nil {
					return err
				}
				if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: names.DeploysStream(), Subjects: []string{names.DeploySubjects()}}); err != nil {
					return err
				}
				_, err := broker.EnsureSinkConsumer(ctx, js, names, "chat", 0, o)
				return err
			}
			if err := repair(ctx); err != nil {
				t.Fatal(err)
			}
			topo, err := broker.Ensure(ctx, js, names, o)
			if err != nil {
				t.Fatal(err)
			}
			h := broker.NewHealer(js, broker.HealerOptions{
				Objects:    broker.Objects(names, []string{"chat"}),
				Repair:     repair,
				Interval:   time.Hour, // only Check's kicks heal: what is missing is seen first
				Conn:       nc,
				Registerer: prometheus.NewRegistry(),
			})
			var mu sync.Mutex
			seen := map[string]bool{}
			runCtx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			t.Cleanup(func() { cancel(); wg.Wait() })
			wg.Go(func() {
				_ = broker.Run(runCtx, topo.Triage, broker.RunOptions{Workers: 2}, func(_ context.Context, m jetstream.Msg) {
					mu.Lock()
					seen[string(m.Data())] = true
					mu.Unlock()
					_ = m.Ack()
				})
			})
			handled := func(data string) {
				t.Helper()
				if _, err := js.Publish(ctx, names.AlertSubject(triaged.StatusFiring), []byte(data)); err != nil {
					t.Fatal(err)
				}
				testkit.Eventually(t, 10*time.Second, data+" handled", func() bool {
					mu.Lock()
					defer mu.Unlock()
					return seen[data]
				})
			}
			handled("before")
			if err := h.Check(ctx); err != nil {
				t.Fatalf("Check before the deletion: %v", err)
			}

			if err := tt.delete(ctx, js); err != nil {
				t.Fatal(err)
			}
			err = h.Check(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.missing) {
				t.Fatalf("Check after deleting the %s = %v, want it to name %q", tt.name, err, tt.missing)
			}
			wg.Go(func() { _ = h.Run(runCtx) })
			testkit.Eventually(t, 10*time.Second, "the topology healed", func() bool { return h.Check(ctx) == nil })
			handled("after")
		})
	}
}

// TestTopologyRecreatedAfterNATSLostItsData: a NATS server that comes back without its data
// (a new volume, a wiped store) gets the whole topology again as soon as triaged reconnects.
func TestTopologyRecreatedAfterNATSLostItsData(t *testing.T) {
	names := broker.MustNames("triaged")
	opts := natsserver.DefaultTestOptions
	opts.Port, opts.JetStream, opts.StoreDir = -1, true, t.TempDir()
	ns := natsserver.RunServer(&opts)
	opts.Port = ns.Addr().(*net.TCPAddr).Port
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	o := broker.DefaultTopologyOptions()
	repair := func(ctx context.Context) error {
		if _, err := broker.Ensure(ctx, js, names, o); err != nil {
			return err
		}
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: names.DeploysStream(), Subjects: []string{names.DeploySubjects()}})
		return err
	}
	if err := repair(ctx); err != nil {
		t.Fatal(err)
	}
	h := broker.NewHealer(js, broker.HealerOptions{
		Objects: broker.Objects(names, nil), Repair: repair, Interval: time.Hour, Conn: nc, Registerer: prometheus.NewRegistry(),
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	ns.Shutdown()
	ns.WaitForShutdown()
	opts.StoreDir = t.TempDir() // the data is gone
	ns = natsserver.RunServer(&opts)
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	// Looked up directly, not through Check, which would itself ask for a repair.
	testkit.Eventually(t, 10*time.Second, "the topology recreated after the reconnect", func() bool {
		for _, name := range []string{names.AlertsStream(), names.ReportsStream(), names.DeadLettersStream(), names.DeploysStream()} {
			if _, err := js.Stream(ctx, name); err != nil {
				return false
			}
		}
		_, err := js.Consumer(ctx, names.AlertsStream(), names.TriageConsumer())
		return err == nil
	})
}
