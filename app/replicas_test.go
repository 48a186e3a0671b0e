package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
)

// TestTwoReplicasOneIncidentPerGroup runs two triaged processes on one external nats-server and
// sends every webhook to both at once, as the two Alertmanagers of an HA pair do: each group
// gets one opening, and one resolution.
func TestTwoReplicasOneIncidentPerGroup(t *testing.T) {
	ns := natstest.Server(t)
	cfg := configFile(t, reportAtOnce)
	replicas := []*running{start(t, app.Options{NATSURL: ns.ClientURL(), ConfigFile: cfg}), start(t, app.Options{NATSURL: ns.ClientURL(), ConfigFile: cfg})}
	const groups = 40
	now := time.Now().UTC().Truncate(time.Millisecond)

	sendToBoth(t, replicas, groups, now, nil)
	testkit.Eventually(t, testTimeout, fmt.Sprintf("%d opened reports", groups), func() bool {
		return reportsOnStream(t, replicas[0])[triaged.EventOpened] >= groups
	})
	replicas[0].settled(t)
	checkOnePerGroup(t, replicas, groups, triaged.EventOpened)

	end := now.Add(time.Minute)
	sendToBoth(t, replicas, groups, now, &end)
	testkit.Eventually(t, testTimeout, fmt.Sprintf("%d resolved reports", groups), func() bool {
		return reportsOnStream(t, replicas[0])[triaged.EventResolved] >= groups
	})
	replicas[0].settled(t)
	checkOnePerGroup(t, replicas, groups, triaged.EventOpened, triaged.EventResolved)
}

// sendToBoth sends every group's webhook to every replica concurrently: firing, or resolved at
// end. Odd groups list their alerts in another order at the second replica: identical payloads
// are one message on the alerts stream (its deduplication), so those groups reach triage twice
// and test the incidents bucket's compare-and-set instead.
func sendToBoth(t *testing.T, replicas []*running, groups int, startsAt time.Time, end *time.Time) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, groups*len(replicas))
	for g := range groups {
		for i, r := range replicas {
			body := replicaWebhook(g, startsAt, end, i == 1 && g%2 == 1)
			wg.Go(func() {
				resp, err := http.Post(r.url+"/api/v1/alerts", "application/json", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("group %d at %s: status %d", g, r.url, resp.StatusCode)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// replicaWebhook is group g's notification of its three alerts.
func replicaWebhook(g int, startsAt time.Time, end *time.Time, reversed bool) []byte {
	status := triaged.StatusFiring
	if end != nil {
		status = triaged.StatusResolved
	}
	name := fmt.Sprintf("group-%02d", g)
	w := triaged.Webhook{Version: triaged.WebhookVersion, GroupKey: fmt.Sprintf(`{}:{alertname="ReplicaTest", group=%q}`, name)}
	w.Receiver, w.Status, w.ExternalURL = "triaged", status, "http://alertmanager:9093"
	w.GroupLabels = template.KV{"alertname": "ReplicaTest", "group": name}
	w.CommonLabels = template.KV{"alertname": "ReplicaTest", "group": name, "service": "checkout", "env": "prod"}
	for i := range 3 {
		a := template.Alert{
			Status:      status,
			Labels:      template.KV{"alertname": "ReplicaTest", "group": name, "service": "checkout", "env": "prod", "instance": fmt.Sprintf("api-%d", i)},
			Annotations: template.KV{"summary": "replica test"},
			StartsAt:    startsAt,
			Fingerprint: fmt.Sprintf("%08x%08x", g, i),
		}
		if end != nil {
			a.EndsAt = *end
		}
		w.Alerts = append(w.Alerts, a)
	}
	if reversed {
		slices.Reverse(w.Alerts)
	}
	data, err := json.Marshal(w)
	if err != nil {
		panic(err)
	}
	return data
}

// reportsOnStream counts the reports on the reports stream by event.
func reportsOnStream(t *testing.T, r *running) map[triaged.Event]int {
	n := map[triaged.Event]int{}
	for _, rep := range readReports(t, r) {
		n[rep.Event]++
	}
	return n
}

// streamReport is what the test reads of a report on the stream.
type streamReport struct {
	ID         string        `json:"id"`
	Event      triaged.Event `json:"event"`
	GroupKey   string        `json:"group_key"`
	IncidentID string        `json:"incident_id"`
}

// readReports reads the whole reports stream.
func readReports(t *testing.T, r *running) []streamReport {
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
	total := int(info.State.Msgs)
	var out []streamReport
	if total == 0 {
		return out
	}
	c, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for len(out) < total {
		batch, err := c.Fetch(total-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := len(out)
		for m := range batch.Messages() {
			var rep streamReport
			if err := json.Unmarshal(m.Data(), &rep); err != nil {
				t.Fatalf("report on %s: %v", m.Subject(), err)
			}
			if want := names.Prefix() + ".reports." + string(rep.Event) + "."; len(m.Subject()) <= len(want) || m.Subject()[:len(want)] != want {
				t.Errorf("report %s of event %s published on %s", rep.IncidentID, rep.Event, m.Subject())
			}
			out = append(out, rep)
		}
		if len(out) == n {
			t.Fatalf("read %d of the %d reports on the stream", n, total)
		}
	}
	return out
}

// checkOnePerGroup checks that the stream holds exactly one report of each event per group, all
// of a group's reports of one incident, and that the two replicas' stdout sinks printed each
// report once between them.
func checkOnePerGroup(t *testing.T, replicas []*running, groups int, events ...triaged.Event) {
	t.Helper()
	reps := readReports(t, replicas[0])
	type groupEvent struct {
		group string
		event triaged.Event
	}
	count := map[groupEvent]int{}
	incident := map[string]string{}
	for _, rep := range reps {
		count[groupEvent{rep.GroupKey, rep.Event}]++
		if id, ok := incident[rep.GroupKey]; ok && id != rep.IncidentID {
			t.Errorf("group %s has reports of incidents %s and %s", rep.GroupKey, id, rep.IncidentID)
		}
		incident[rep.GroupKey] = rep.IncidentID
	}
	if len(incident) != groups || len(reps) != groups*len(events) {
		t.Errorf("%d reports for %d groups on the stream, want %d for %d", len(reps), len(incident), groups*len(events), groups)
	}
	for key := range incident {
		for _, ev := range events {
			if n := count[groupEvent{key, ev}]; n != 1 {
				t.Errorf("group %s: %d %s reports, want 1", key, n, ev)
			}
		}
	}
	printed := 0
	for _, r := range replicas {
		printed += reportCount(r.stdout.String())
	}
	if printed != len(reps) {
		t.Errorf("the replicas' stdout sinks printed %d reports, want each of the %d once", printed, len(reps))
	}
}
