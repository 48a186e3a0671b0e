package deploy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
)

// startIndex runs a new index of the stream until the test ends and waits until it is ready.
func startIndex(t *testing.T, js jetstream.JetStream) *Index {
	t.Helper()
	ix := NewIndex(js, names, IndexOptions{Registerer: prometheus.NewPedanticRegistry()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := ix.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestIndexHTTPAndNATS: events recorded over HTTP and events a CI job publishes on NATS itself,
// by core NATS or JetStream, all reach the index; invalid ones published on NATS are skipped
// and counted, and the index keeps going.
func TestIndexHTTPAndNATS(t *testing.T) {
	nc, js, _ := setup(t)
	ix := startIndex(t, js)
	h := NewHandler(NewRecorder(js, names, RecorderOptions{}), HandlerOptions{Registerer: prometheus.NewPedanticRegistry()})
	now := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }

	if code, body := post(t, h, "POST", "application/json", `{"service":"checkout","environment":"prod","version":"v2","time":"`+at(10*time.Minute)+`"}`); code != 201 {
		t.Fatalf("POST: %d %s", code, body)
	}
	// Core NATS: the stream captures the subject; no ack, as a fire-and-forget CI step would do.
	if err := nc.Publish("triaged.deploys.payments", []byte(`{"service":"payments","version":"p7","time":"`+at(40*time.Minute)+`"}`)); err != nil {
		t.Fatal(err)
	}
	// Invalid events on NATS: refused by the index, not by the stream.
	for subj, data := range map[string]string{
		"triaged.deploys.payments": `{"service":"payments","version":"bad version"}`,
		"triaged.deploys.postgres": `{"service":"checkout"}`, // subject and service disagree
		"triaged.deploys.redis":    `not json`,
	} {
		if err := nc.Publish(subj, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	// JetStream publish without a time: the stream timestamp is the deploy's time.
	if _, err := js.Publish(context.Background(), "triaged.deploys.postgres", []byte(`{"service":"postgres","version":"16.4"}`)); err != nil {
		t.Fatal(err)
	}

	testkit.Eventually(t, 5*time.Second, "3 events in the index", func() bool { return ix.Len() == 3 })
	testkit.Eventually(t, 5*time.Second, "3 invalid events counted", func() bool { return testutil.ToFloat64(ix.m.refused.WithLabelValues(SourceNATS, RefusedInvalid)) == 3 })
	c := ix.Correlate(Query{Service: "checkout", Dependencies: []string{"payments", "postgres"}, Environment: "prod", AlertStart: now.Add(time.Minute)})
	if len(c.Changes) != 3 || !c.Complete {
		t.Fatalf("Correlate: %+v", c)
	}
	if c.Changes[0].Service != "postgres" || c.Changes[0].Time.Before(now) || !c.Changes[0].Suspect {
		t.Errorf("first change %+v: want postgres, timed by the stream, suspect", c.Changes[0])
	}
	if c.Changes[1].Service != "checkout" || c.Changes[1].MinutesBefore != 11 || c.Changes[2].Service != "payments" || c.Changes[2].Suspect {
		t.Errorf("changes %+v", c.Changes)
	}
	if got := testutil.ToFloat64(ix.m.received.WithLabelValues(SourceHTTP)); got != 1 {
		t.Errorf("received{source=http} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(ix.m.received.WithLabelValues(SourceNATS)); got != 2 {
		t.Errorf("received{source=nats} = %v, want 2", got)
	}
}

// TestIndexRebuilt: a new index on the same stream, as after a restart, holds every event
// recorded before it started by the time it says it is ready.
func TestIndexRebuilt(t *testing.T) {
	_, js, _ := setup(t)
	rec := NewRecorder(js, names, RecorderOptions{})
	now := time.Now().UTC()
	const n = 300
	for i := range n {
		e := Event{Service: fmt.Sprintf("svc-%d", i%7), Version: fmt.Sprintf("v%d", i), Time: now.Add(-time.Duration(i) * time.Minute)}
		if _, _, err := rec.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	first := startIndex(t, js)
	if first.Len() != n {
		t.Fatalf("first index holds %d events when ready, want %d", first.Len(), n)
	}
	want := first.Correlate(Query{Service: "svc-3", AlertStart: now, Window: 24 * time.Hour})

	// "Restart": a new index on the same stream, while the first is still running, as a
	// second replica would be.
	second := startIndex(t, js)
	if second.Len() != n {
		t.Fatalf("rebuilt index holds %d events when ready, want %d", second.Len(), n)
	}
	got := second.Correlate(Query{Service: "svc-3", AlertStart: now, Window: 24 * time.Hour})
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got.Changes) == 0 {
		t.Errorf("rebuilt index correlates differently:\n got %v\nwant %v", got, want)
	}
	// The replay is not counted as received.
	if got := testutil.ToFloat64(second.m.received.WithLabelValues(SourceHTTP)); got != 0 {
		t.Errorf("received after replay = %v, want 0", got)
	}
	// Both keep current.
	if _, _, err := rec.Record(context.Background(), Event{Service: "svc-3", Version: "new"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the new event in both indexes", func() bool { return first.Len() == n+1 && second.Len() == n+1 })
}

func TestIndexEmptyStreamIsReady(t *testing.T) {
	_, js, _ := setup(t)
	ix := startIndex(t, js)
	c := ix.Correlate(Query{Service: "checkout", AlertStart: time.Now()})
	if !c.Complete || c.Summary != "no deploys of checkout in the 2h before the alert" {
		t.Errorf("Correlate on an empty stream: %+v", c)
	}
}

func TestIndexRunWithoutStream(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Server(t))
	ix := NewIndex(js, names, IndexOptions{})
	if err := ix.Run(context.Background()); err == nil {
		t.Fatal("Run without a stream: no error")
	}
	if ix.Ready() {
		t.Error("ready without a stream")
	}
}

// TestIndexStartedThenSucceeded: both events of one deploy are stored, and the index shows the
// deploy once, with its latest status.
func TestIndexStartedThenSucceeded(t *testing.T) {
	_, js, s := setup(t)
	rec := NewRecorder(js, names, RecorderOptions{})
	ix := startIndex(t, js)
	at := time.Now().UTC().Add(-5 * time.Minute)
	for _, st := range []string{StatusStarted, StatusFailed} {
		if _, dup, err := rec.Record(context.Background(), Event{Service: "checkout", Version: "v3", Time: at, Status: st}); err != nil || dup {
			t.Fatalf("record %s: dup %v, %v", st, dup, err)
		}
	}
	testkit.Eventually(t, 5*time.Second, "both messages stored", func() bool { return streamMsgs(t, s) == 2 })
	testkit.Eventually(t, 5*time.Second, "the failed status indexed", func() bool {
		c := ix.Correlate(Query{Service: "checkout", AlertStart: time.Now()})
		return len(c.Changes) == 1 && c.Summary == "1 deploy of checkout in the 2h before the alert, 1 suspect (within 30m); 1 failed"
	})
}
