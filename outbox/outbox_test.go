package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

// flakySink fails its first failures deliveries, then records what it is given.
type flakySink struct {
	mu        sync.Mutex
	failures  int
	delivered []string
}

func (s *flakySink) Name() string { return "flaky" }

func (s *flakySink) Deliver(_ context.Context, d notify.Delivery) (*notify.Thread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return nil, errors.New("receiver down")
	}
	s.delivered = append(s.delivered, d.Report.ID)
	return nil, nil
}

func (s *flakySink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.delivered...)
}

func TestFailedDeliveryIsRetriedAndPoisonIsTerminated(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	o := broker.DefaultTopologyOptions()
	if _, err := broker.Ensure(context.Background(), js, names, o); err != nil {
		t.Fatal(err)
	}
	cons, err := broker.EnsureSinkConsumer(context.Background(), js, names, "flaky", o)
	if err != nil {
		t.Fatal(err)
	}
	sink := &flakySink{failures: 2}
	reg := prometheus.NewRegistry()
	d := outbox.NewDeliverer(sink, outbox.NewMetrics(reg), outbox.Options{RetryBackoff: []time.Duration{20 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, cons) }()

	if _, err := js.Publish(context.Background(), names.ReportSubject(triaged.EventOpened, triaged.P1), []byte("{broken")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a.opened", "b.opened"} {
		data, _ := json.Marshal(triaged.Report{ID: id, Severity: triaged.P1, Event: triaged.EventOpened})
		if _, err := js.Publish(context.Background(), names.ReportSubject(triaged.EventOpened, triaged.P1), data); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, "both reports delivered", func() bool { return len(sink.got()) >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := sink.got(); len(got) != 2 || got[0] != "a.opened" || got[1] != "b.opened" {
		t.Fatalf("delivered %v, want [a.opened b.opened] in order", got)
	}
	for result, want := range map[string]float64{"failure": 2, "success": 2, "undecodable": 1} {
		if got := metrictest.Value(t, reg, "triaged_notifications_total", "sink", "flaky", "result", result); got != want {
			t.Errorf("notifications_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

// A report its sink refuses on every allowed delivery is set aside, and the sink gets the next
// one, instead of the whole sink waiting on it forever (issue 9).
func TestReportFailingEveryDeliveryIsDeadLettered(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	o := broker.DefaultTopologyOptions()
	o.MaxDeliveries = 3
	topo, err := broker.Ensure(context.Background(), js, names, o)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := broker.EnsureSinkConsumer(context.Background(), js, names, "flaky", o)
	if err != nil {
		t.Fatal(err)
	}
	sink := &flakySink{failures: 3}
	reg := prometheus.NewRegistry()
	dead := broker.NewDeadLetters(js, names, o.MaxDeliveries, reg, nil)
	d := outbox.NewDeliverer(sink, outbox.NewMetrics(reg), outbox.Options{RetryBackoff: []time.Duration{20 * time.Millisecond}, DeadLetters: dead})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, cons) }()
	for _, id := range []string{"a.opened", "b.opened"} {
		data, _ := json.Marshal(triaged.Report{ID: id, Severity: triaged.P1, Event: triaged.EventOpened})
		if _, err := js.Publish(context.Background(), names.ReportSubject(triaged.EventOpened, triaged.P1), data); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, "the second report delivered", func() bool { return len(sink.got()) >= 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := sink.got(); len(got) != 1 || got[0] != "b.opened" {
		t.Fatalf("delivered %v, want [b.opened]", got)
	}
	m, err := topo.DeadLetters.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(broker.HeaderReason) != broker.ReasonExhausted || m.Header.Get(broker.HeaderError) != "delivery to sink flaky: receiver down" || m.Header.Get(broker.HeaderOriginConsumer) != names.SinkConsumer("flaky") {
		t.Errorf("dead letter headers %v", m.Header)
	}
	if got := metrictest.Value(t, reg, "triaged_dead_letters_total", "consumer", names.SinkConsumer("flaky"), "reason", broker.ReasonExhausted); got != 1 {
		t.Errorf("triaged_dead_letters_total = %v, want 1", got)
	}
}
