package outbox_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

// channelSink records each report it gets with the channel it was routed to.
type channelSink struct {
	mu  sync.Mutex
	got []string
}

func (s *channelSink) Name() string { return "chat" }

func (s *channelSink) Deliver(_ context.Context, d notify.Delivery) (*notify.Thread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d.Report.ID+"@"+d.Channel)
	return nil, nil
}

func (s *channelSink) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// TestRouteSkipsAndPicksTheChannel: a report its route does not send to the sink is acknowledged
// without a delivery, and the others reach the sink with the channel routing chose.
func TestRouteSkipsAndPicksTheChannel(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	o := broker.DefaultTopologyOptions()
	if _, err := broker.Ensure(context.Background(), js, names, o); err != nil {
		t.Fatal(err)
	}
	cons, err := broker.EnsureSinkConsumer(context.Background(), js, names, "chat", o)
	if err != nil {
		t.Fatal(err)
	}
	sink := &channelSink{}
	route := func(rep *triaged.Report) (string, bool) {
		return "#inc-" + rep.Service, rep.Severity == triaged.P1
	}
	d := outbox.NewDeliverer(sink, outbox.NewMetrics(prometheus.NewRegistry()), outbox.Options{Route: route})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, cons) }()
	for _, rep := range []triaged.Report{
		{ID: "a.opened", Severity: triaged.P1, Event: triaged.EventOpened, Service: "checkout"},
		{ID: "b.opened", Severity: triaged.P3, Event: triaged.EventOpened, Service: "search"},
		{ID: "c.opened", Severity: triaged.P1, Event: triaged.EventOpened, Service: "payments"},
	} {
		data, _ := json.Marshal(rep)
		if _, err := js.Publish(context.Background(), names.ReportSubject(rep.Event, rep.Severity), data); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, "every report acknowledged", func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream == 3
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := sink.delivered()
	if len(got) != 2 || got[0] != "a.opened@#inc-checkout" || got[1] != "c.opened@#inc-payments" {
		t.Errorf("delivered %v, want [a.opened@#inc-checkout c.opened@#inc-payments]", got)
	}
}
