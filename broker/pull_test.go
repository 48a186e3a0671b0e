package broker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
)

// TestPullsNoticeALostRequestWithinSeconds: a consumer loop's pull requests ask for heartbeats
// every few seconds and expire soon, so a request lost with the node leading the consumer is
// noticed (two heartbeats missed) and made again within seconds. With nats.go's defaults (30 s
// requests, 15 s heartbeats) triage stalled for up to 30 s after a NATS node froze (issue 14's
// TestClusterPartition found it); the request as the server sees it is checked here.
func TestPullsNoticeALostRequestWithinSeconds(t *testing.T) {
	ns := natstest.Server(t)
	nc, js := natstest.Connect(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, "S", jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	requests := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe("$JS.API.CONSUMER.MSG.NEXT.S.C", requests)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- broker.Feed(runCtx, c, 4, nil, func(m jetstream.Msg) { _ = m.Ack() }) }()
	defer func() { stop(); <-done }()
	var req struct {
		Expires   time.Duration `json:"expires"`
		Heartbeat time.Duration `json:"idle_heartbeat"`
	}
	select {
	case m := <-requests:
		if err := json.Unmarshal(m.Data, &req); err != nil {
			t.Fatalf("pull request %q: %v", m.Data, err)
		}
	case <-ctx.Done():
		t.Fatal("no pull request")
	}
	// A lost request is noticed after two missed heartbeats; one that expires is made again.
	if req.Heartbeat <= 0 || 2*req.Heartbeat > 5*time.Second {
		t.Errorf("pull request asks for heartbeats every %s, want at most 2.5s (a lost request noticed within 5s)", req.Heartbeat)
	}
	if req.Expires > 10*time.Second {
		t.Errorf("pull request expires after %s, want at most 10s", req.Expires)
	}
}
