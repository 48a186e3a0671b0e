package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/testkit"
)

// TestLargestGroupStillReported: 500 alerts of one group, each with 60 annotations of 1 KiB —
// every one within the door's limits — made an incident record of about 30 MB, far over what NATS
// stores in one bucket entry (its max payload, 1 MiB): every change of the incident failed to
// store, was retried and dead-lettered, and the group got no report at all. The record is now
// bounded as a whole; the group gets its reports, and nothing is dead-lettered. (Under the race
// detector 50 alerts, which failed alike.)
func TestLargestGroupStillReported(t *testing.T) {
	// Few, quick retries: without the bound the failures are dead-lettered within the test.
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce+
		"triage:\n  retry_backoff: [10ms]\n  max_deliveries: 2\n")})
	const perWebhook, annotations = 50, 60
	alerts := 500
	if raceDetector {
		alerts = 50 // still 3 MB of annotations: the record outgrew NATS' max payload after 17
	}
	value := strings.Repeat("a", 1<<10)
	startsAt := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	// Alertmanager sends a group in webhooks of at most max_alerts; 50 alerts of 61 KB each stay
	// under the default max_body_bytes.
	for from := 0; from < alerts; from += perWebhook {
		var list []map[string]any
		for i := from; i < from+perWebhook; i++ {
			ann := map[string]string{"summary": fmt.Sprintf("instance %d is down", i)}
			for j := len(ann); j < annotations; j++ {
				ann[fmt.Sprintf("note_%02d", j)] = value
			}
			list = append(list, map[string]any{
				"status": "firing", "startsAt": startsAt, "endsAt": "0001-01-01T00:00:00Z",
				"labels":      map[string]string{"alertname": "Wide", "service": "checkout", "instance": fmt.Sprintf("api-%03d", i)},
				"annotations": ann, "generatorURL": "http://prometheus.example.com/graph?g0.expr=up",
			})
		}
		var body bytes.Buffer
		if err := json.NewEncoder(&body).Encode(map[string]any{
			"receiver": "webhook", "status": "firing", "version": "4", "groupKey": `{}:{alertname="Wide"}`,
			"groupLabels": map[string]string{"alertname": "Wide"}, "alerts": list,
		}); err != nil {
			t.Fatal(err)
		}
		r.post(t, body.Bytes())
	}
	names := broker.MustNames(r.app.Config().NATS.Prefix)
	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 60*time.Second, "every notification handled", func() bool {
		c, err := js.Consumer(context.Background(), names.AlertsStream(), names.TriageConsumer())
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	dead, err := js.Stream(context.Background(), names.DeadLettersStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := dead.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d notifications dead-lettered, want none", info.State.Msgs)
	}
	reps := readFullReports(t, r)
	if len(reps) == 0 {
		t.Fatal("no report of the group")
	}
	first, last := reps[0], reps[len(reps)-1]
	if first.Event != triaged.EventOpened || last.AlertsFiring != alerts {
		t.Errorf("reports from %s to %s with %d alerts firing, want an opening and at last all %d firing", first.Event, last.Event, last.AlertsFiring, alerts)
	}
	if want := "alerts of the group are kept without their annotations and generator URL"; !slices.ContainsFunc(last.Observations, func(o string) bool { return strings.Contains(o, want) }) {
		t.Errorf("the last report's observations %q do not say %q", last.Observations, want)
	}
}

// readFullReports reads the whole reports stream as reports.
func readFullReports(t *testing.T, r *running) []triaged.Report {
	t.Helper()
	ctx := context.Background()
	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	names := broker.MustNames(r.app.Config().NATS.Prefix)
	stream, err := js.Stream(ctx, names.ReportsStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []triaged.Report
	for range info.State.Msgs {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("read %d of the %d reports on the stream: %v", len(out), info.State.Msgs, err)
		}
		var rep triaged.Report
		if err := json.Unmarshal(m.Data(), &rep); err != nil {
			t.Fatalf("report on %s: %v", m.Subject(), err)
		}
		out = append(out, rep)
	}
	return out
}
