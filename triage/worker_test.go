package triage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/triage"
)

var names = broker.MustNames("triaged")

// fixedClassifier decides one severity for every alert and counts its calls; onCall, if set,
// runs first (tests use it to crash a worker mid-triage).
type fixedClassifier struct {
	severity atomic.Int64
	calls    atomic.Int64
	onCall   func(n int64)
	service  atomic.Value // the mapped service of the last alert classified
}

func newClassifier(s triaged.Severity) *fixedClassifier {
	c := &fixedClassifier{}
	c.severity.Store(int64(s))
	return c
}

func (c *fixedClassifier) Classify(_ *triaged.Alert, svc triaged.Service, _ time.Time) triaged.Classification {
	n := c.calls.Add(1)
	c.service.Store(svc.Name)
	if c.onCall != nil {
		c.onCall(n)
	}
	s := triaged.Severity(c.severity.Load())
	return triaged.Classification{Severity: s, Rule: "fixed", RuleSetVersion: "test",
		Decisions: []triaged.Decision{{Stage: "classify", Rule: "fixed", Severity: s, Reason: "test rule"}}}
}

type env struct {
	ns   *server.Server
	js   jetstream.JetStream
	topo *broker.Topology
	opts broker.TopologyOptions
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	o := broker.DefaultTopologyOptions()
	o.AckWait = 2 * time.Second
	topo, err := broker.Ensure(context.Background(), js, names, o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{ns: ns, js: js, topo: topo, opts: o}
}

// startWorker runs a worker pool on its own connection, as a separate replica would.
func (e *env) startWorker(t *testing.T, c triage.Classifier, workers int) (stop func(), nc *nats.Conn, reg *prometheus.Registry) {
	return e.startWorkerWith(t, triage.Options{Classifier: c}, workers)
}

func (e *env) startWorkerWith(t *testing.T, o triage.Options, workers int) (stop func(), nc *nats.Conn, reg *prometheus.Registry) {
	t.Helper()
	nc, js := natstest.Connect(t, e.ns)
	cons, err := js.Consumer(context.Background(), names.AlertsStream(), names.TriageConsumer())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), names.IncidentsBucket())
	if err != nil {
		t.Fatal(err)
	}
	reg = prometheus.NewRegistry()
	o.JetStream, o.Names, o.Incidents, o.Registerer = js, names, kv, reg
	o.HandleTimeout, o.RetryBackoff = 2*time.Second, []time.Duration{50 * time.Millisecond}
	if o.Policy.FlapThreshold == 0 {
		// Every change reported at once: no coalescing timers pending on the stream.
		o.Policy = triage.Policy{ReopenWindow: time.Hour, FlapThreshold: 3, FlapWindow: time.Minute, FlapStable: time.Minute}
	}
	w, err := triage.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx, cons, workers, e.opts.AckWait) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop, nc, reg
}

// publish puts a captured webhook on the alerts stream as ingest would, after mutate has
// changed its alerts.
func (e *env) publish(t *testing.T, file string, mutate ...func(*template.Alert)) *triaged.Batch {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("../testdata/alertmanager", file))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := triaged.DecodeWebhook(body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range batch.Alerts {
		for _, m := range mutate {
			m(&batch.Alerts[i])
		}
	}
	e.publishBatch(t, batch)
	return batch
}

func (e *env) publishBatch(t *testing.T, b *triaged.Batch) {
	t.Helper()
	msgs, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broker.NewAlertPublisher(e.js, names).PublishAlerts(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

// publishAlerts publishes each alert as the only alert of its webhook.
func (e *env) publishAlerts(t *testing.T, alerts []triaged.Alert) {
	t.Helper()
	pub := broker.NewAlertPublisher(e.js, names)
	for _, a := range alerts {
		b := &triaged.Batch{Group: a.Group, ReceivedAt: a.ReceivedAt, Alerts: []template.Alert{a.Alert}}
		msgs, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pub.PublishAlerts(context.Background(), msgs); err != nil {
			t.Fatal(err)
		}
	}
}

// reports waits until every alert message is handled (the triage consumer has nothing pending,
// in flight or waiting for redelivery) and returns the reports on the stream, which must be
// exactly want: an alert is acknowledged only after its report is on the stream, so none can
// come later.
func (e *env) reports(t *testing.T, want int) []triaged.Report {
	t.Helper()
	e.settled(t)
	c, err := e.js.OrderedConsumer(context.Background(), names.ReportsStream(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.topo.Reports.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int(info.State.Msgs) != want {
		t.Fatalf("reports stream holds %d reports, want exactly %d", info.State.Msgs, want)
	}
	batch, err := c.Fetch(want, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var out []triaged.Report
	for m := range batch.Messages() {
		var r triaged.Report
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			t.Fatalf("report on %s undecodable: %v", m.Subject(), err)
		}
		if wantSubject := names.ReportSubject(r.Event, r.Severity); m.Subject() != wantSubject {
			t.Errorf("report %s on subject %s, want %s", r.ID, m.Subject(), wantSubject)
		}
		out = append(out, r)
	}
	if len(out) != want {
		t.Fatalf("fetched %d reports, want %d", len(out), want)
	}
	return out
}

// settled waits until the triage consumer has handled every alert message.
func (e *env) settled(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, "every alert message handled", func() bool {
		idle, err := natstest.Idle(context.Background(), e.js, names.AlertsStream(), names.TriageConsumer())
		return err == nil && idle
	})
}

func assertOnePerIncident(t *testing.T, reps []triaged.Report) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range reps {
		if seen[r.ID] {
			t.Errorf("report %s published twice", r.ID)
		}
		seen[r.ID] = true
	}
}

func TestAGroupIsOneIncidentEvenWhenResent(t *testing.T) {
	e := newEnv(t)
	_, _, reg := e.startWorker(t, newClassifier(triaged.P2), 4)
	b := e.publish(t, "firing-10-alerts.json")
	e.publish(t, "firing-10-alerts.json") // deduplicated by message id
	// Beyond JetStream's duplicate window Alertmanager's resend is a new message; the incident
	// must absorb it.
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), names.AlertSubject("firing"), data); err != nil { // no message id
		t.Fatal(err)
	}
	reps := e.reports(t, 1)
	r := reps[0]
	if r.Event != triaged.EventOpened || r.Severity != triaged.P2 || r.AlertsFiring != 10 || len(r.Alerts) != 10 {
		t.Errorf("report %s: event %s severity %s, %d alerts firing; want one opening of all 10", r.ID, r.Event, r.Severity, r.AlertsFiring)
	}
	if got := metrictest.Value(t, reg, "triaged_alerts_absorbed_total"); got != 10 {
		t.Errorf("triaged_alerts_absorbed_total = %v, want the 10 alerts of the resend", got)
	}
}

// TestTheIncidentFollowsItsGroup: a group of three opens one incident; a recovery, a more severe
// joiner, the resolution and a refiring are each one report of the same incident.
func TestTheIncidentFollowsItsGroup(t *testing.T) {
	e := newEnv(t)
	cls := newClassifier(triaged.P3)
	_, _, reg := e.startWorker(t, cls, 2)
	b := e.publish(t, "firing-3-alerts.json")
	e.reports(t, 1)

	resolve := func(a *template.Alert) { a.Status, a.EndsAt = triaged.StatusResolved, time.Now() }
	one := &triaged.Batch{Group: b.Group, ReceivedAt: time.Now(), Alerts: []template.Alert{b.Alerts[0]}}
	resolve(&one.Alerts[0])
	e.publishBatch(t, one)
	reps := e.reports(t, 2)
	if r := reps[1]; r.Event != triaged.EventUpdated || !slices.Contains(r.Changes, fmt.Sprintf("1 of 3 recovered (%s), 2 still firing", b.Alerts[0].Labels["instance"])) {
		t.Fatalf("second report: %s %q, want updated: 1 of 3 recovered, 2 still firing", r.Event, r.Changes)
	}

	cls.severity.Store(int64(triaged.P1))
	joiner := b.Alerts[0]
	joiner.Fingerprint, joiner.Labels = "00000000000000ff", template.KV{"alertname": "TargetDown", "instance": "db-1"}
	e.publishBatch(t, &triaged.Batch{Group: b.Group, ReceivedAt: time.Now(), Alerts: []template.Alert{joiner}})
	reps = e.reports(t, 3)
	if r := reps[2]; r.Event != triaged.EventUpdated || r.Severity != triaged.P1 || !strings.Contains(strings.Join(r.Changes, ";"), "severity raised to P1 by db-1") {
		t.Fatalf("third report: %s %s %q, want updated P1, severity raised by db-1", r.Event, r.Severity, r.Changes)
	}

	all := &triaged.Batch{Group: b.Group, ReceivedAt: time.Now(), Alerts: append(slices.Clone(b.Alerts), joiner)}
	for i := range all.Alerts {
		resolve(&all.Alerts[i])
	}
	e.publishBatch(t, all)
	reps = e.reports(t, 4)
	if r := reps[3]; r.Event != triaged.EventResolved || r.Status != triaged.ReportResolved || r.EndedAt == nil || r.Severity != triaged.P1 {
		t.Fatalf("fourth report: %s %s ended %v %s; want resolved RESOLVED, an end, P1", r.Event, r.Status, r.EndedAt, r.Severity)
	}
	// The resolution carries what the opening looked at (and did not): nothing uncollected
	// becomes a fact at the end.
	if got, want := strings.Join(reps[3].Pending, ","), strings.Join(reps[0].Pending, ","); got != want || got == "" {
		t.Errorf("the resolution's pending sections %q, want the opening's %q", got, want)
	}

	again := &triaged.Batch{Group: b.Group, ReceivedAt: time.Now(), Alerts: []template.Alert{b.Alerts[1]}}
	again.Alerts[0].StartsAt = time.Now()
	e.publishBatch(t, again)
	reps = e.reports(t, 5)
	if r := reps[4]; r.Event != triaged.EventReopened {
		t.Fatalf("fifth report: %s, want reopened", r.Event)
	}
	for _, r := range reps {
		if r.IncidentID != reps[0].IncidentID {
			t.Errorf("report %s is of incident %s, want %s", r.ID, r.IncidentID, reps[0].IncidentID)
		}
	}
	assertOnePerIncident(t, reps)
	if got := metrictest.Value(t, reg, "triaged_reports_published_total"); got != 5 {
		t.Errorf("triaged_reports_published_total = %v, want 5", got)
	}
	if got := metrictest.Value(t, reg, "triaged_triage_latency_seconds"); got != 5 {
		t.Errorf("triage latency observed %v times, want 5", got)
	}
}

func TestUndecodableMessageIsTerminatedNotRetried(t *testing.T) {
	e := newEnv(t)
	_, _, reg := e.startWorker(t, newClassifier(triaged.P4), 1)
	for _, bad := range []string{`{not json`, `{"status":"firing","labels":{},"startsAt":"2026-11-26T00:00:00Z"}`, `{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-26T00:00:00Z","fingerprint":"../x"}`} {
		if _, err := e.js.Publish(context.Background(), names.AlertSubject("firing"), []byte(bad)); err != nil {
			t.Fatal(err)
		}
	}
	e.publish(t, "firing-1-alert.json") // a good one behind the bad ones still gets through
	e.reports(t, 1)
	testkit.Eventually(t, 15*time.Second, "3 undecodable messages terminated", func() bool {
		return metrictest.Value(t, reg, "triaged_messages_terminated_total", "reason", "undecodable") == 3
	})
	// Terminated messages are done for the server: nothing is left to deliver again.
	e.settled(t)
	if got := metrictest.Value(t, reg, "triaged_messages_redelivered_total"); got != 0 {
		t.Errorf("%v redeliveries of terminated messages", got)
	}
}

// An alert whose report could never be encoded (issue 9: a startsAt in year 0 in UTC) was retried
// forever, each holding a MaxAckPending slot. Now it is refused on decoding and set aside on the
// dead-letters stream, with its reason, and the alerts behind it are triaged.
func TestUnencodableAlertIsDeadLetteredNotRetried(t *testing.T) {
	e := newEnv(t)
	dead := broker.NewDeadLetters(e.js, names, 10, nil, nil)
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P4), DeadLetters: dead}, 1)
	bad := `{"group":{"key":"g"},"alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"0000-01-01T00:30:00+01:00"}]}`
	if _, err := e.js.Publish(context.Background(), names.AlertSubject("firing"), []byte(bad)); err != nil {
		t.Fatal(err)
	}
	e.publish(t, "firing-1-alert.json")
	e.reports(t, 1)
	testkit.Eventually(t, 15*time.Second, "one dead letter", func() bool {
		info, err := e.topo.DeadLetters.Info(context.Background())
		return err == nil && info.State.Msgs == 1
	})
	m, err := e.topo.DeadLetters.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(broker.HeaderReason) != broker.ReasonUndecodable || !strings.Contains(m.Header.Get(broker.HeaderError), "alerts[0].startsAt: ") || string(m.Data) != bad {
		t.Errorf("dead letter %v %q", m.Header, m.Data)
	}
	e.settled(t)
}

func TestTwoReplicasSplitTheWork(t *testing.T) {
	e := newEnv(t)
	a, b := newClassifier(triaged.P3), newClassifier(triaged.P3)
	slow := func(int64) { time.Sleep(2 * time.Millisecond) } // keep both replicas busy
	a.onCall, b.onCall = slow, slow
	e.startWorker(t, a, 2)
	e.startWorker(t, b, 2)
	const n = 200
	alerts := make([]triaged.Alert, n)
	for i := range alerts {
		alerts[i] = syntheticAlert(i)
	}
	e.publishAlerts(t, alerts)
	reps := e.reports(t, n)
	assertOnePerIncident(t, reps)
	if a.calls.Load() == 0 || b.calls.Load() == 0 {
		t.Fatalf("work not split: replica A classified %d, B %d", a.calls.Load(), b.calls.Load())
	}
	t.Logf("replica A classified %d alerts, B %d", a.calls.Load(), b.calls.Load())
}

// TestCrashMidWayLosesNothingAndDuplicatesNothing queues alerts, kills the consuming replica's
// connection while it is in the middle of them (messages delivered, some reported, none of
// those acked yet), then starts another replica: every alert gets exactly one report.
func TestCrashMidWayLosesNothingAndDuplicatesNothing(t *testing.T) {
	e := newEnv(t)
	const n = 60
	alerts := make([]triaged.Alert, n)
	for i := range alerts {
		alerts[i] = syntheticAlert(i)
	}
	e.publishAlerts(t, alerts)
	crashing := newClassifier(triaged.P2)
	var conn atomic.Pointer[nats.Conn]
	crashing.onCall = func(k int64) {
		if k == n/2 {
			conn.Load().Close() // the process dies: no acks, no more publishes
		}
	}
	stop, nc, _ := e.startWorker(t, crashing, 4)
	conn.Store(nc)
	testkit.Eventually(t, 15*time.Second, "the crashing replica's connection closed", nc.IsClosed)
	stop()

	info, _ := e.topo.Reports.Info(context.Background())
	if info.State.Msgs == 0 || info.State.Msgs >= n {
		t.Fatalf("crash left %d reports: the test must crash mid-way", info.State.Msgs)
	}
	t.Logf("%d reports before the crash", info.State.Msgs)

	_, _, reg := e.startWorker(t, newClassifier(triaged.P2), 4)
	reps := e.reports(t, n)
	assertOnePerIncident(t, reps)
	ids := map[string]bool{}
	for _, r := range reps {
		for _, m := range r.Alerts {
			ids[m.Fingerprint] = true
		}
	}
	for _, a := range alerts {
		if !ids[a.ID()] {
			t.Errorf("alert %s got no report", a.ID())
		}
	}
	if got := metrictest.Value(t, reg, "triaged_messages_redelivered_total"); got == 0 {
		t.Errorf("the second replica saw no redelivery; the crash did not leave unacked work")
	}
}

func syntheticAlert(i int) triaged.Alert {
	var a triaged.Alert
	a.Status = triaged.StatusFiring
	a.Labels = map[string]string{"alertname": "Synthetic", "service": "svc", "instance": fmt.Sprintf("host-%03d", i)}
	a.Annotations = map[string]string{"summary": "synthetic alert"}
	a.StartsAt = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	a.Fingerprint = fmt.Sprintf("%016x", 0xabc000+i)
	a.ReceivedAt = time.Now()
	a.Group = triaged.Group{Receiver: "triaged", Key: fmt.Sprintf(`{}:{instance="host-%03d"}`, i), Size: 1} // a group, so an incident, of its own
	return a
}

// TestTransientFailureIsRetriedWithBackoff takes the reports stream away: the worker cannot
// publish, hands the alert back (Nak with delay) instead of acknowledging it, and reports it
// once the stream is back.
func TestTransientFailureIsRetriedWithBackoff(t *testing.T) {
	e := newEnv(t)
	if err := e.js.DeleteStream(context.Background(), names.ReportsStream()); err != nil {
		t.Fatal(err)
	}
	_, _, reg := e.startWorker(t, newClassifier(triaged.P2), 1)
	e.publish(t, "firing-1-alert.json")
	testkit.Eventually(t, 15*time.Second, "two retries", func() bool { return metrictest.Value(t, reg, "triaged_messages_retried_total") >= 2 })
	topo, err := broker.Ensure(context.Background(), e.js, names, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.topo = topo
	reps := e.reports(t, 1)
	if reps[0].Event != triaged.EventOpened {
		t.Fatalf("got %s", reps[0].Event)
	}
	if got := metrictest.Value(t, reg, "triaged_messages_redelivered_total"); got < 2 {
		t.Errorf("redelivered %v times, want at least 2", got)
	}
}

// raiseToP1 escalates every alert to P1 whose enrichment found a failed probe.
type raiseToP1 struct{}

func (raiseToP1) Escalate(c triaged.Classification, _ *triaged.Alert, _ triaged.Service, enr triaged.Enrichment, _ time.Time) triaged.Classification {
	for _, p := range enr.Probes {
		if !p.OK {
			c.Severity = triaged.P1
			c.Decisions = append(c.Decisions, triaged.Decision{Stage: "escalate", Rule: "probe-failing", Severity: triaged.P1, Reason: "probe " + p.Name + " failed"})
		}
	}
	return c
}

// checkoutResolver maps every alert to the catalog service checkout.
type checkoutResolver struct{}

func (checkoutResolver) Resolve(*triaged.Alert) triaged.Service {
	return triaged.Service{Name: "checkout", Environment: "prod", From: "the service catalog, test", Catalogue: triaged.InCatalog}
}

type failingProbe struct{ calls atomic.Int64 }

func (f *failingProbe) Enrich(context.Context, *triaged.Alert, triaged.Service, triaged.Classification) (triaged.Enrichment, func() (triaged.Enrichment, bool)) {
	f.calls.Add(1)
	return triaged.Enrichment{Probes: []triaged.Probe{{Name: "health", Kind: "http", OK: false, Error: "503"}}, Pending: []string{"logs"}}, nil
}

func TestEscalationRaisesAndResendsStayDuplicates(t *testing.T) {
	e := newEnv(t)
	enricher := &failingProbe{}
	cls := newClassifier(triaged.P3)
	e.startWorkerWith(t, triage.Options{Resolver: checkoutResolver{}, Classifier: cls, Escalator: raiseToP1{}, Enricher: enricher}, 2)
	e.publish(t, "firing-1-alert.json")
	reps := e.reports(t, 1)
	r := reps[0]
	if got := cls.service.Load(); got != "checkout" {
		t.Errorf("the rules saw service %v, want the mapped checkout", got)
	}
	if r.Severity != triaged.P1 || len(r.Decisions) != 2 || r.Decisions[1].Stage != "escalate" || len(r.Probes) != 1 {
		t.Fatalf("report %s with decisions %+v and probes %+v; want P1 raised by escalation", r.Severity, r.Decisions, r.Probes)
	}
	// A resend classifies to P3 again: it must not count as a severity change.
	batch, _ := triaged.DecodeWebhook(mustRead(t, "firing-1-alert.json"), time.Now())
	raw, _ := json.Marshal(batch)
	if _, err := e.js.Publish(context.Background(), names.AlertSubject("firing"), raw); err != nil {
		t.Fatal(err)
	}
	e.reports(t, 1)
	if got := enricher.calls.Load(); got != 1 {
		t.Errorf("enrichment ran %d times; a duplicate must not probe again", got)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/alertmanager", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clock is a settable time for the worker, so a test can play minutes of alerts in a moment.
type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time   { return time.Unix(0, c.now.Load()).UTC() }
func (c *clock) Set(t time.Time)  { c.now.Store(t.UnixNano()) }
func newClock(t time.Time) *clock { c := &clock{}; c.Set(t); return c }

// TestAFlappingAlertIsReportedOnceAsFlapping: an alert firing and resolving every 30 s for three
// minutes, with the default incident policy, gives at most three reports, one of them saying it
// flaps and how to make the alerting rule ride it out.
func TestAFlappingAlertIsReportedOnceAsFlapping(t *testing.T) {
	e := newEnv(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	c := newClock(t0)
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P3), Policy: triage.DefaultPolicy(), Now: c.Now}, 2)
	kv, err := e.js.KeyValue(context.Background(), names.IncidentsBucket())
	if err != nil {
		t.Fatal(err)
	}
	base := syntheticAlert(7)
	var start time.Time
	for i := range 7 { // fire, resolve, fire, ... every 30 s: 0 s to 180 s
		now := t0.Add(time.Duration(i) * 30 * time.Second)
		c.Set(now)
		a := base.Alert
		if i%2 == 0 {
			start = now
			a.Status, a.StartsAt = triaged.StatusFiring, start
		} else {
			a.Status, a.StartsAt, a.EndsAt = triaged.StatusResolved, start, now
		}
		e.publishBatch(t, &triaged.Batch{Group: base.Group, ReceivedAt: now, Alerts: []template.Alert{a}})
		testkit.Eventually(t, 15*time.Second, fmt.Sprintf("edge %d applied", i), func() bool {
			keys, err := kv.ListKeysFiltered(context.Background(), triaged.IncidentStatePrefix+">")
			if err != nil {
				return false
			}
			for k := range keys.Keys() {
				if e, err := kv.Get(context.Background(), k); err == nil {
					var inc triaged.Incident
					if json.Unmarshal(e.Value(), &inc) == nil && inc.UpdatedAt.Equal(now) {
						return true
					}
				}
			}
			return false
		})
	}
	testkit.Eventually(t, 15*time.Second, "the flapping report", func() bool {
		info, err := e.topo.Reports.Info(context.Background())
		return err == nil && info.State.Msgs >= 2
	})
	info, err := e.topo.Reports.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs > 3 {
		t.Fatalf("%d reports for three minutes of flapping, want at most 3", info.State.Msgs)
	}
	flapping := 0
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := e.topo.Reports.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		r, err := triaged.DecodeReport(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if r.Flapping {
			flapping++
			if !strings.Contains(r.FlapAdvice, "about every 1m0s") || !strings.Contains(r.FlapAdvice, "keep_firing_for") {
				t.Errorf("flapping report's advice %q lacks the measured period or the suggestion", r.FlapAdvice)
			}
		}
	}
	if flapping != 1 {
		t.Errorf("%d reports mark the incident flapping, want 1", flapping)
	}
}

// lateProbe finds a failed probe only after the opening went out.
type lateProbe struct{}

func (lateProbe) Enrich(context.Context, *triaged.Alert, triaged.Service, triaged.Classification) (triaged.Enrichment, func() (triaged.Enrichment, bool)) {
	running := triaged.Enrichment{Probes: []triaged.Probe{{Name: "health", Error: "still running at the deadline: triage deadline reached"}}}
	return running, func() (triaged.Enrichment, bool) {
		return triaged.Enrichment{Probes: []triaged.Probe{{Name: "health", Kind: "http", OK: false, Error: "503 Service Unavailable"}}}, true
	}
}

func TestWhatEnrichmentFindsLateIsAnUpdate(t *testing.T) {
	e := newEnv(t)
	_, _, reg := e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P2), Enricher: lateProbe{}}, 1)
	e.publish(t, "firing-1-alert.json")
	reps := e.reports(t, 2)
	if reps[0].Event != triaged.EventOpened || !strings.Contains(reps[0].Probes[0].Error, "still running") {
		t.Fatalf("first report: %s %+v, want the opening with the probe still running", reps[0].Event, reps[0].Probes)
	}
	if r := reps[1]; r.Event != triaged.EventUpdated || !slices.Contains(r.Changes, "probe health answered after the opening: FAILED: 503 Service Unavailable") || r.Probes[0].Error != "503 Service Unavailable" {
		t.Fatalf("second report: %s %q %+v, want an update with the late probe result", r.Event, r.Changes, r.Probes)
	}
	if got := metrictest.Value(t, reg, "triaged_incident_updates_total", "reason", "enrichment"); got != 1 {
		t.Errorf("updates for late enrichment = %v, want 1", got)
	}
}
