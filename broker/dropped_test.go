package broker_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
)

// TestDroppedUntriagedAreCounted: a full alerts stream discards its oldest messages; those its
// consumer had not acknowledged were lost without a word. They are now counted, once, and
// logged; those it had acknowledged are not.
func TestDroppedUntriagedAreCounted(t *testing.T) {
	ctx := context.Background()
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	const stream, payload = "TINY", 1000
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"tiny.>"}, MaxBytes: 10 * (payload + 100), Discard: jetstream.DiscardOld})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "triage", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	d := broker.NewDropWatch(reg, slog.New(slog.NewTextHandler(&logs, nil)))
	publish := func(n int) {
		for range n {
			if _, err := js.Publish(ctx, "tiny.alerts", bytes.Repeat([]byte("x"), payload)); err != nil {
				t.Fatal(err)
			}
		}
	}
	acked := map[uint64]bool{}
	// ack takes the next n messages and acknowledges them, as triage does.
	ack := func(n int) {
		if n == 0 {
			return
		}
		batch, err := c.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
			acked[meta.Sequence.Stream] = true
		}
	}
	// lost is what the stream discarded unacknowledged, from its first sequence and the acks.
	lost := func() float64 {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for seq := uint64(1); seq < info.State.FirstSeq; seq++ {
			if !acked[seq] {
				n++
			}
		}
		return float64(n)
	}
	steps := []struct {
		name       string
		publish    int
		ack        int
		wantLogged bool
	}{
		{"the stream holds all", 8, 8, false},
		{"full, it discards only what was triaged", 8, 0, false},
		{"triage behind by more than the stream", 25, 0, true},
		{"counted once", 0, 0, false},
		{"triage catches up", 0, 10, false},
		{"behind again", 12, 0, true},
	}
	for _, st := range steps {
		logs.Reset()
		publish(st.publish)
		ack(st.ack)
		if _, err := d.Check(ctx, js, stream, c); err != nil {
			t.Fatal(err)
		}
		want := lost()
		if got := metrictest.Value(t, reg, "triaged_alerts_dropped_untriaged_total"); got != want {
			t.Errorf("%s: triaged_alerts_dropped_untriaged_total = %v, want %v", st.name, got, want)
		}
		if logged := strings.Contains(logs.String(), "the alerts stream is full and discarded messages triage had not handled"); logged != st.wantLogged {
			t.Errorf("%s: logged %t, want %t: %s", st.name, logged, st.wantLogged, logs.String())
		}
	}
	if lost() == 0 {
		t.Error("the stream dropped nothing unacknowledged: the test tests nothing")
	}
}
