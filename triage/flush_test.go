package triage_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/triage"
)

// TestJoinsWithinTheIntervalShareOneFlush: alerts joining an incident soon after its opening are
// coalesced into one updated report when the interval is over, fired by one flush message that
// the second join does not publish again.
func TestJoinsWithinTheIntervalShareOneFlush(t *testing.T) {
	e := newEnv(t)
	policy := triage.Policy{ReopenWindow: time.Hour, UpdateInterval: 1500 * time.Millisecond, FlapThreshold: 3, FlapWindow: time.Minute, FlapStable: time.Minute}
	// One worker: of two, the one losing a compare-and-set race would publish the winner's
	// outbox again (the stream drops it as a duplicate), which the count below would see.
	timers, err := e.js.Consumer(context.Background(), names.AlertsStream(), names.TimerConsumer())
	if err != nil {
		t.Fatal(err)
	}
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P3), Policy: policy, Timers: timers}, 1)
	nc, _ := natstest.Connect(t, e.ns)
	var flushes atomic.Int32
	if _, err := nc.Subscribe(names.TimerSubject(), func(*nats.Msg) { flushes.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	b := e.publish(t, "firing-3-alerts.json")
	e.reports(t, 1)
	for i, instance := range []string{"api-4", "api-5"} {
		joiner := b.Alerts[0]
		joiner.Fingerprint, joiner.Labels = fmt.Sprintf("00000000000000f%d", i), template.KV{"alertname": "TargetDown", "instance": instance}
		e.publishBatch(t, &triaged.Batch{Group: b.Group, ReceivedAt: time.Now(), Alerts: []template.Alert{joiner}})
	}
	testkit.Eventually(t, 15*time.Second, "the coalesced update, due after the interval", func() bool {
		info, err := e.topo.Reports.Info(context.Background())
		return err == nil && info.State.Msgs >= 2
	})
	reps := e.reports(t, 2)
	r := reps[1]
	if r.Event != triaged.EventUpdated || r.IncidentID != reps[0].IncidentID || r.AlertsFiring != 5 ||
		!slices.Contains(r.Changes, "1 more alert joined (api-4)") || !slices.Contains(r.Changes, "1 more alert joined (api-5)") {
		t.Fatalf("second report: %s of %s, %d firing, changes %q; want one update of the incident with both joins", r.Event, r.IncidentID, r.AlertsFiring, r.Changes)
	}
	if n := flushes.Load(); n != 1 {
		t.Errorf("%d flush messages published, want 1 for both joins", n)
	}
}

// TestPendingTimersDoNotHoldAlertsBack: more incidents waiting for a coalesced update than the
// triage consumer's MaxAckPending must not stop new alerts from being triaged.
func TestPendingTimersDoNotHoldAlertsBack(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	o := broker.DefaultTopologyOptions()
	o.MaxAckPending = 4
	topo, err := broker.Ensure(context.Background(), js, names, o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ns: ns, js: js, topo: topo, opts: o}
	policy := triage.Policy{ReopenWindow: time.Hour, UpdateInterval: time.Hour, FlapThreshold: 3, FlapWindow: time.Minute, FlapStable: time.Minute}
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P3), Policy: policy, Timers: topo.Timers}, 2)

	body, err := os.ReadFile(filepath.Join("../testdata/alertmanager", "firing-1-alert.json"))
	if err != nil {
		t.Fatal(err)
	}
	group := func(g, alert int) *triaged.Batch {
		b, err := triaged.DecodeWebhook(body, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b.Group.Key = fmt.Sprintf("{}:{group=\"%d\"}", g)
		labels := maps.Clone(b.Alerts[0].Labels)
		labels["instance"] = fmt.Sprintf("%d-%d", g, alert) // an alert's identity is its labels
		b.Alerts[0].Labels = labels
		return b
	}
	const groups = 2 * 4 // twice MaxAckPending
	for g := range groups {
		e.publishBatch(t, group(g, 0))
	}
	waitReports := func(n int) {
		testkit.Eventually(t, 15*time.Second, fmt.Sprintf("%d reports", n), func() bool {
			info, err := topo.Reports.Info(context.Background())
			return err == nil && info.State.Msgs >= uint64(n)
		})
	}
	waitReports(groups)
	for g := range groups { // each join is coalesced: a timer an hour away per incident
		e.publishBatch(t, group(g, 1))
	}
	testkit.Eventually(t, 15*time.Second, fmt.Sprintf("%d timers", groups), func() bool {
		info, err := topo.Alerts.Info(context.Background(), jetstream.WithSubjectFilter(names.TimerSubject()))
		return err == nil && info.State.Subjects[names.TimerSubject()] == groups
	})
	e.publishBatch(t, group(groups, 0))
	waitReports(groups + 1)
	e.reports(t, groups+1)
}

// TestTimerFailingOnceDueIsDeadLettered: a timer whose change fails transiently once due (here
// its report cannot be published: the reports stream is gone) was retried forever, since its
// deliveries, counting its waits until due, were not bounded. Its failures are now counted, and
// after triage.max_deliveries of them it is dead-lettered with the reason, as alert messages are.
func TestTimerFailingOnceDueIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	policy := triage.Policy{ReopenWindow: time.Hour, UpdateInterval: 500 * time.Millisecond, FlapThreshold: 3, FlapWindow: time.Minute, FlapStable: time.Minute}
	const maxDeliveries = 3
	dead := broker.NewDeadLetters(e.js, names, maxDeliveries, nil, nil)
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P3), Policy: policy, Timers: e.topo.Timers, DeadLetters: dead}, 1)
	b := e.publish(t, "firing-3-alerts.json")
	e.reports(t, 1)
	if err := e.js.DeleteStream(context.Background(), names.ReportsStream()); err != nil {
		t.Fatal(err)
	}
	joiner := b.Alerts[0]
	joiner.Fingerprint, joiner.Labels = "00000000000000f1", template.KV{"alertname": "TargetDown", "instance": "api-4"}
	e.publishBatch(t, &triaged.Batch{Group: b.Group, ReceivedAt: time.Now(), Alerts: []template.Alert{joiner}}) // coalesced: a timer
	testkit.Eventually(t, 15*time.Second, "the failing timer dead-lettered", func() bool {
		info, err := e.topo.DeadLetters.Info(context.Background())
		return err == nil && info.State.Msgs > 0
	})
	m, err := e.topo.DeadLetters.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(broker.HeaderReason) != broker.ReasonExhausted || m.Header.Get(broker.HeaderOriginConsumer) != names.TimerConsumer() ||
		!strings.Contains(m.Header.Get(broker.HeaderError), fmt.Sprintf("failed %d times once due", maxDeliveries)) {
		t.Errorf("dead letter %v %s", m.Header, m.Data)
	}
	testkit.Eventually(t, 5*time.Second, "no timer left", func() bool {
		info, err := e.topo.Timers.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}
