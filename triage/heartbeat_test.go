package triage_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/triage"
)

func watchdogMatchers(t *testing.T) labels.Matchers {
	t.Helper()
	m, err := labels.ParseMatcher(`alertname="Watchdog"`)
	if err != nil {
		t.Fatal(err)
	}
	return labels.Matchers{m}
}

// Two replicas watch one Alertmanager's heartbeat: when it stops, exactly one P1 incident opens;
// when it resumes, after the replicas restarted, it resolves. The heartbeat never reaches the alerts stream.
func TestHeartbeatAcrossReplicas(t *testing.T) {
	e := newEnv(t)
	hb := triage.Heartbeat{Matchers: watchdogMatchers(t), Interval: 400 * time.Millisecond}
	var stops []func()
	for range 2 {
		stop, _, _ := e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P4), Heartbeat: hb}, 2)
		stops = append(stops, stop)
	}
	_, js := natstest.Connect(t, e.ns)
	kv, err := js.KeyValue(context.Background(), names.IncidentsBucket())
	if err != nil {
		t.Fatal(err)
	}
	door, err := triage.New(triage.Options{JetStream: js, Names: names, Incidents: kv, Classifier: newClassifier(triaged.P4),
		HandleTimeout: 2 * time.Second, Heartbeat: hb})
	if err != nil {
		t.Fatal(err)
	}
	const am = "http://alertmanager.example:9093"
	webhook := func() *triaged.Batch {
		return &triaged.Batch{ReceivedAt: time.Now(), Group: triaged.Group{Receiver: "triaged", Key: "{}:{}", ExternalURL: am}, Alerts: []template.Alert{
			{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "Watchdog"}, StartsAt: time.Now().Add(-time.Hour)},
			{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "TargetDown"}, StartsAt: time.Now().Add(-time.Hour)},
		}}
	}
	b := webhook()
	if err := door.TakeHeartbeats(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if len(b.Alerts) != 1 || b.Alerts[0].Labels["alertname"] != "TargetDown" {
		t.Fatalf("after the heartbeat was taken out, the webhook holds %v", b.Alerts)
	}

	countReports := func() int {
		info, err := e.topo.Reports.Info(context.Background())
		if err != nil {
			return -1
		}
		return int(info.State.Msgs)
	}
	testkit.Eventually(t, 10*time.Second, "the missing heartbeat reported", func() bool { return countReports() >= 1 })
	// Both replicas restart: what they knew is in the bucket.
	for _, stop := range stops {
		stop()
	}
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P4), Heartbeat: hb}, 2)
	if err := door.TakeHeartbeats(context.Background(), webhook()); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the resumed heartbeat reported", func() bool { return countReports() >= 2 })
	// Not e.reports: with no heartbeat since, the next opening may follow at any time.
	c, err := e.js.OrderedConsumer(context.Background(), names.ReportsStream(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var reps []triaged.Report
	for m := range batch.Messages() {
		var r triaged.Report
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	if len(reps) != 2 {
		t.Fatalf("fetched %d reports, want 2", len(reps))
	}
	if reps[0].Event != triaged.EventOpened || reps[0].Severity != triaged.P1 || reps[1].Event != triaged.EventResolved {
		t.Errorf("reports %s %s, %s: want one P1 opened, then resolved", reps[0].Event, reps[0].Severity, reps[1].Event)
	}
	if reps[0].IncidentID != reps[1].IncidentID {
		t.Errorf("the resolution is of incident %s, the opening of %s", reps[1].IncidentID, reps[0].IncidentID)
	}
}

// dropper drops InfoInhibitor, as a rule with drop: true does, and classifies the rest P3.
type dropper struct{}

func (dropper) Classify(a *triaged.Alert, _ triaged.Service, _ time.Time) triaged.Classification {
	if a.Name() == "InfoInhibitor" {
		return triaged.Classification{Rule: "drop-info-inhibitor", Dropped: true}
	}
	return triaged.Classification{Severity: triaged.P3, Rule: "p3"}
}

// A dropped alert is acknowledged and counted, and joins no incident: of a webhook with a
// dropped and a kept alert, only the kept one is reported.
func TestDroppedAlertIsCountedNotReported(t *testing.T) {
	e := newEnv(t)
	_, _, reg := e.startWorkerWith(t, triage.Options{Classifier: dropper{}}, 1)
	e.publishBatch(t, &triaged.Batch{ReceivedAt: time.Now(), Group: triaged.Group{Receiver: "r", Key: "{}:{}"}, Alerts: []template.Alert{
		{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "InfoInhibitor"}, StartsAt: time.Now().Add(-time.Hour)},
	}})
	e.publishBatch(t, &triaged.Batch{ReceivedAt: time.Now(), Group: triaged.Group{Receiver: "r", Key: "{}:{x}"}, Alerts: []template.Alert{
		{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "InfoInhibitor", "n": "2"}, StartsAt: time.Now().Add(-time.Hour)},
		{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "TargetDown"}, StartsAt: time.Now().Add(-time.Hour)},
	}})
	reps := e.reports(t, 1)
	if len(reps[0].Alerts) != 1 || reps[0].Alerts[0].Labels["alertname"] != "TargetDown" {
		t.Errorf("the report holds %v, want TargetDown alone", reps[0].Alerts)
	}
	if n := metrictest.Value(t, reg, "triaged_alerts_dropped_total", "rule", "drop-info-inhibitor"); n != 2 {
		t.Errorf("triaged_alerts_dropped_total = %v, want 2", n)
	}
}
