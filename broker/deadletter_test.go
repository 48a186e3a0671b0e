package broker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
)

type dlEnv struct {
	js    jetstream.JetStream
	names broker.Names
	topo  *broker.Topology
	dead  *broker.DeadLetters
	reg   *prometheus.Registry
}

func newDLEnv(t *testing.T) *dlEnv {
	t.Helper()
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	o := broker.DefaultTopologyOptions()
	o.MaxDeliveries = 3
	topo, err := broker.Ensure(context.Background(), js, names, o)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	return &dlEnv{js: js, names: names, topo: topo, dead: broker.NewDeadLetters(js, names, o.MaxDeliveries, reg, nil), reg: reg}
}

// run consumes the triage consumer with h until the test ends.
func (e *dlEnv) run(t *testing.T, h broker.Handler) {
	t.Helper()
	if _, err := e.js.Publish(context.Background(), e.names.AlertSubject(triaged.StatusFiring), []byte(`poison`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = broker.Run(ctx, e.topo.Triage, broker.RunOptions{Workers: 2, DeadLetters: e.dead}, h)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// deadLetter waits for the one dead letter and checks what it names.
func (e *dlEnv) deadLetter(t *testing.T, reason string, deliveries string) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, "a dead letter", func() bool {
		info, err := e.topo.DeadLetters.Info(context.Background())
		return err == nil && info.State.Msgs == 1
	})
	m, err := e.topo.DeadLetters.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		broker.HeaderOriginStream:   e.names.AlertsStream(),
		broker.HeaderOriginSubject:  e.names.AlertSubject(triaged.StatusFiring),
		broker.HeaderOriginConsumer: e.names.TriageConsumer(),
		broker.HeaderOriginSequence: "1",
		broker.HeaderDeliveries:     deliveries,
		broker.HeaderReason:         reason,
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if string(m.Data) != "poison" || m.Subject != e.names.DeadLetterSubject(e.names.TriageConsumer()) {
		t.Errorf("dead letter %s %q, want the payload on %s", m.Subject, m.Data, e.names.DeadLetterSubject(e.names.TriageConsumer()))
	}
	// The origin is settled: it no longer holds a MaxAckPending slot.
	testkit.Eventually(t, 10*time.Second, "the origin message settled", func() bool {
		ci, err := e.topo.Triage.Info(context.Background())
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0 && ci.NumRedelivered == 0
	})
	// Counted between the copy and the termination: read once the origin is settled, not as soon
	// as the copy is on the stream.
	if got := metrictest.Value(t, e.reg, "triaged_dead_letters_total", "consumer", e.names.TriageConsumer(), "reason", reason); got != 1 {
		t.Errorf("triaged_dead_letters_total{reason=%q} = %v, want 1", reason, got)
	}
}

// A handler that fails on every delivery gives up on the last one the bound allows.
func TestTransientFailureIsDeadLetteredAfterTheBound(t *testing.T) {
	e := newDLEnv(t)
	var calls atomic.Int32
	e.run(t, func(ctx context.Context, m jetstream.Msg) {
		calls.Add(1)
		if e.dead.Exhausted(m) {
			e.dead.Send(ctx, m, broker.ReasonExhausted, errors.New("sink down"), 0)
			return
		}
		_ = m.NakWithDelay(0)
	})
	e.deadLetter(t, broker.ReasonExhausted, "3")
	m, _ := e.topo.DeadLetters.GetMsg(context.Background(), 1)
	if got := m.Header.Get(broker.HeaderError); got != "sink down" {
		t.Errorf("error header %q", got)
	}
	if calls.Load() != 3 {
		t.Errorf("handled %d times, want 3", calls.Load())
	}
}

// A handler that crashes is not given the message again.
func TestPanicIsDeadLettered(t *testing.T) {
	e := newDLEnv(t)
	e.run(t, func(context.Context, jetstream.Msg) { panic("boom") })
	e.deadLetter(t, broker.ReasonPanic, "1")
}

// A message whose every delivery ended without an ack decision (the process died handling it)
// is set aside when it arrives once more than allowed, before its handler sees it.
func TestMessageWithoutOutcomeIsDeadLettered(t *testing.T) {
	e := newDLEnv(t)
	var calls atomic.Int32
	e.run(t, func(ctx context.Context, m jetstream.Msg) {
		calls.Add(1)
		_ = m.Nak() // as a crash would, without consulting the bound
	})
	e.deadLetter(t, broker.ReasonNoOutcome, "4")
	if calls.Load() != 3 {
		t.Errorf("handled %d times, want 3", calls.Load())
	}
}

// The consumers' MaxDeliver is a backstop one past the bound.
func TestConsumersMaxDeliverIsOnePastTheBound(t *testing.T) {
	e := newDLEnv(t)
	for _, c := range []jetstream.Consumer{e.topo.Triage} {
		if got := c.CachedInfo().Config.MaxDeliver; got != 4 {
			t.Errorf("%s MaxDeliver = %d, want 4", c.CachedInfo().Name, got)
		}
	}
	if got := e.topo.Timers.CachedInfo().Config.MaxDeliver; got != -1 {
		t.Errorf("timers MaxDeliver = %d, want -1: a timer's deliveries are its waits", got)
	}
	// Sinks have a bound of their own, so a chat service's outage does not make dead letters.
	o := broker.DefaultTopologyOptions()
	o.MaxDeliveries, o.SinkMaxDeliveries = 3, 7
	sink, err := broker.EnsureSinkConsumer(context.Background(), e.js, e.names, "chat", 0, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := sink.CachedInfo().Config.MaxDeliver; got != 8 {
		t.Errorf("sink MaxDeliver = %d, want 8, one past the sinks' bound", got)
	}
	if got := e.dead.WithBound(7).MaxDeliveries(); got != 7 || e.dead.MaxDeliveries() != 3 {
		t.Errorf("WithBound(7) = %d and the original %d, want 7 and 3", got, e.dead.MaxDeliveries())
	}
	info, err := e.topo.DeadLetters.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Name != "TRIAGED_DEADLETTERS" || info.Config.Subjects[0] != "triaged.deadletters.>" || info.Config.MaxAge != 14*24*time.Hour || info.Config.Storage != jetstream.FileStorage {
		t.Errorf("dead-letters stream %+v", info.Config)
	}
}
