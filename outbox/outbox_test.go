package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

// Incidents are delivered at once, each one's reports in order and in one thread. Before, one
// report at a time went out: a slow or failing report held up every incident.
func TestIncidentsInParallelEachInOrder(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	// No delivery finishes before four are under way at once (a deliverer going one report at a
	// time never gets there) and the backlog was seen.
	gate := make(chan struct{})
	sink := &chat{hook: func(notify.Delivery) error { <-gate; return nil }}
	r := e.start(sink, outbox.Options{Concurrency: 4, BacklogEvery: 10 * time.Millisecond})
	want := map[string][]string{}
	for k := range 3 {
		for i := range 12 {
			inc := fmt.Sprintf("inc-%02d", i)
			ev := []triaged.Event{triaged.EventOpened, triaged.EventUpdated, triaged.EventResolved}[k]
			rep := report(inc, k+1, ev)
			want[inc] = append(want[inc], rep.ID)
			e.publish(rep)
		}
	}
	testkit.Eventually(t, 10*time.Second, "four deliveries at once", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.active == 4
	})
	testkit.Eventually(t, 10*time.Second, "the backlog seen", func() bool {
		return metrictest.Value(t, r.reg, "triaged_sink_backlog_messages", "sink", "chat") > 0
	})
	close(gate)
	testkit.Eventually(t, 10*time.Second, "36 reports delivered", func() bool { return len(sink.got()) >= 36 })
	testkit.Eventually(t, 10*time.Second, "the backlog gone", func() bool {
		return metrictest.Value(t, r.reg, "triaged_sink_backlog_messages", "sink", "chat") == 0
	})
	r.stop(t)
	for _, name := range []string{"triaged_delivery_latency_seconds", "triaged_alert_age_at_delivery_seconds"} {
		if got := metrictest.Value(t, r.reg, name, "sink", "chat", "severity", "P2"); got != 36 {
			t.Errorf("%s{severity=P2} has %v observations, want 36", name, got)
		}
	}
	checkThreads(t, sink.got(), want)
	if sink.most > 4 {
		t.Errorf("%d deliveries at once, want at most the concurrency, 4", sink.most)
	}
	if got := metrictest.Value(t, r.reg, "triaged_notifications_total", "sink", "chat", "result", "success"); got != 36 {
		t.Errorf("notifications_total{result=success} = %v, want 36", got)
	}
}

// A report given to the stream twice (a replay, a resend) reaches the sink once.
func TestDeliveredReportIsNotDeliveredAgain(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	sink := &chat{}
	r := e.start(sink, outbox.Options{})
	e.publish(report("inc", 1, triaged.EventOpened))
	testkit.Eventually(t, 5*time.Second, "the opening delivered", func() bool { return len(sink.got()) == 1 })
	// The same report, published again without a message id.
	data := `{"id":"inc.1.opened","incident_id":"inc","event":"opened","severity":"P2"}`
	if _, err := e.js.Publish(context.Background(), e.names.ReportSubject(triaged.EventOpened, triaged.P2), []byte(data)); err != nil {
		t.Fatal(err)
	}
	e.publish(report("inc", 2, triaged.EventResolved))
	testkit.Eventually(t, 5*time.Second, "the resolution delivered", func() bool { return len(sink.got()) == 2 })
	r.stop(t)
	checkThreads(t, sink.got(), map[string][]string{"inc": {"inc.1.opened", "inc.2.resolved"}})
	if got := metrictest.Value(t, r.reg, "triaged_notifications_total", "sink", "chat", "result", "duplicate"); got != 1 {
		t.Errorf("notifications_total{result=duplicate} = %v, want 1", got)
	}
}

// triaged stops after taking a report and recording its intent, before the sink posted it: the
// next process delivers it, once, told it may have been posted.
func TestCrashBeforeDeliveryDeliversOnceAfterRestart(t *testing.T) {
	o := broker.DefaultTopologyOptions()
	o.AckWait = time.Second
	e := newEnv(t, o)
	first := &chat{}
	crashed := make(chan struct{})
	var a *replica
	first.hook = func(notify.Delivery) error {
		a.crash()
		close(crashed)
		return errors.New("process gone")
	}
	// The attempt's intent holds the report back until it is overdue (its timeout, then the
	// grace of ack wait + 5 s), in case its process is alive and only cut off from NATS.
	a = e.start(first, outbox.Options{Timeout: time.Second})
	e.publish(report("inc", 1, triaged.EventOpened), report("inc", 2, triaged.EventUpdated))
	<-crashed
	a.stop(t)

	sink := &chat{}
	r := e.start(sink, outbox.Options{Timeout: time.Second})
	testkit.Eventually(t, 20*time.Second, "both reports delivered after the restart", func() bool { return len(sink.got()) >= 2 })
	r.stop(t)
	checkThreads(t, sink.got(), map[string][]string{"inc": {"inc.1.opened", "inc.2.updated"}})
	if calls := sink.attempts(); len(calls) == 0 || calls[0].Report.ID != "inc.1.opened" || !calls[0].MaybePosted {
		t.Errorf("first attempt after the restart %+v, want inc.1.opened marked maybe-posted", calls)
	}
}

// triaged stops after the sink posted the root message and before recording it: the next
// process finds the root through MaybePosted, and the update goes into the same thread.
func TestCrashAfterRootPostedUpdateGoesInItsThread(t *testing.T) {
	o := broker.DefaultTopologyOptions()
	o.AckWait = time.Second
	e := newEnv(t, o)
	first := &chat{}
	crashed := make(chan struct{})
	var a *replica
	first.after = func(_ notify.Delivery, th *notify.Thread) (*notify.Thread, error) {
		a.crash() // posted, and gone before the outcome is recorded
		close(crashed)
		return th, nil
	}
	a = e.start(first, outbox.Options{Timeout: time.Second})
	e.publish(report("inc", 1, triaged.EventOpened))
	<-crashed
	a.stop(t)
	e.publish(report("inc", 2, triaged.EventUpdated))

	// The same chat service: what the first process posted is there.
	sink := &chat{posts: first.got(), next: 100}
	r := e.start(sink, outbox.Options{Timeout: time.Second})
	testkit.Eventually(t, 20*time.Second, "the update delivered after the restart", func() bool { return len(sink.got()) >= 2 })
	r.stop(t)
	checkThreads(t, sink.got(), map[string][]string{"inc": {"inc.1.opened", "inc.2.updated"}})
}

// A replica stopping hands back the reports it held for their incident's turn at once; the next
// one to get them waits for the earlier report, still in its retry, instead of overtaking it.
func TestStoppedReplicasWaitingReportsKeepTheirTurn(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	sink := &chat{}
	failed := make(chan struct{})
	var once sync.Once
	sink.hook = func(d notify.Delivery) error {
		if d.Report.ID == "inc.1.opened" {
			fail := false
			once.Do(func() { fail = true; close(failed) })
			if fail {
				return errors.New("receiver hiccup")
			}
		}
		return nil
	}
	e.publish(report("inc", 1, triaged.EventOpened), report("inc", 2, triaged.EventUpdated))
	a := e.start(sink, outbox.Options{RetryBackoff: []time.Duration{500 * time.Millisecond}})
	<-failed
	a.stop(t) // the update, held behind the opening's retry, goes back now; the opening in 500ms
	b := e.start(sink, outbox.Options{})
	testkit.Eventually(t, 10*time.Second, "both delivered", func() bool { return len(sink.got()) >= 2 })
	b.stop(t)
	checkThreads(t, sink.got(), map[string][]string{"inc": {"inc.1.opened", "inc.2.updated"}})
}

// Two replicas on one consumer deliver every report once, each incident's in order, also when
// every opening fails once and its retry may go to the other replica while the first holds the
// incident's later reports.
func TestTwoReplicasDeliverEachReportOnce(t *testing.T) {
	for _, failOpenings := range []bool{false, true} {
		t.Run(fmt.Sprintf("openings fail once: %v", failOpenings), func(t *testing.T) {
			e := newEnv(t, broker.DefaultTopologyOptions())
			sink := &chat{}
			var mu sync.Mutex
			failed := map[string]bool{}
			sink.hook = func(d notify.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				if failOpenings && d.Report.Event == triaged.EventOpened && !failed[d.Report.ID] {
					failed[d.Report.ID] = true
					return errors.New("receiver hiccup")
				}
				return nil
			}
			a := e.start(sink, outbox.Options{Concurrency: 4})
			b := e.start(sink, outbox.Options{Concurrency: 4})
			want := map[string][]string{}
			for k := range 3 {
				for i := range 30 {
					inc := fmt.Sprintf("inc-%02d", i)
					rep := report(inc, k+1, []triaged.Event{triaged.EventOpened, triaged.EventUpdated, triaged.EventResolved}[k])
					want[inc] = append(want[inc], rep.ID)
					e.publish(rep)
				}
			}
			testkit.Eventually(t, 20*time.Second, "90 reports delivered", func() bool { return len(sink.got()) >= 90 })
			a.stop(t)
			b.stop(t)
			checkThreads(t, sink.got(), want)
		})
	}
}

// A 429 with Retry-After is retried no sooner than asked, even with a shorter backoff; a thread
// returned with the error is kept for the retry; a refusal does not mark the retry maybe-posted.
func TestRetryAfterIsHonouredAndThreadKept(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	sink := &chat{}
	var mu sync.Mutex
	var failedAt time.Time
	sink.after = func(d notify.Delivery, th *notify.Thread) (*notify.Thread, error) {
		mu.Lock()
		defer mu.Unlock()
		if d.Report.ID == "inc.1.opened" && failedAt.IsZero() {
			failedAt = time.Now()
			// The root went out, its reply was refused.
			return th, &notify.RetryAfterError{After: time.Second, Err: errors.New("429 from chat.postMessage")}
		}
		return th, nil
	}
	r := e.start(sink, outbox.Options{RetryBackoff: []time.Duration{10 * time.Millisecond}})
	e.publish(report("inc", 1, triaged.EventOpened), report("inc", 2, triaged.EventUpdated))
	testkit.Eventually(t, 10*time.Second, "the update delivered", func() bool {
		for _, p := range sink.got() {
			if p.Report == "inc.2.updated" {
				return true
			}
		}
		return false
	})
	r.stop(t)
	calls := sink.attempts()
	if len(calls) != 3 || calls[1].Report.ID != "inc.1.opened" || calls[2].Report.ID != "inc.2.updated" {
		t.Fatalf("attempts %v, want the opening twice, then the update", calls)
	}
	if calls[1].Thread == nil || calls[1].Thread.RootID != "1" || calls[1].MaybePosted {
		t.Errorf("retry given thread %+v, maybe posted %v; want the root posted by the first attempt, not maybe-posted", calls[1].Thread, calls[1].MaybePosted)
	}
	if calls[2].Thread == nil || calls[2].Thread.RootID != "1" {
		t.Errorf("update given thread %+v, want root 1", calls[2].Thread)
	}
	if got := metrictest.Value(t, r.reg, "triaged_notifications_total", "sink", "chat", "result", "rate_limited"); got != 1 {
		t.Errorf("notifications_total{result=rate_limited} = %v, want 1", got)
	}
	// The retry's own timing is the server's: it came no sooner than Retry-After.
	retried := sink.retriedAt("inc.1.opened")
	if gap := retried.Sub(failedAt); gap < time.Second {
		t.Errorf("retried %v after the 429, want at least the 1s of Retry-After", gap)
	}
}

// A report the service refuses for good is a dead letter at once, with the reason; the
// incident's later reports still go out.
func TestPermanentFailureDeadLettersAndIncidentGoesOn(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	sink := &chat{}
	sink.hook = func(d notify.Delivery) error {
		if d.Report.ID == "inc.1.opened" {
			return notify.Permanent(errors.New("channel_not_found"))
		}
		return nil
	}
	dead := broker.NewDeadLetters(e.js, e.names, outbox.MaxDeliveries, nil, nil)
	r := e.start(sink, outbox.Options{DeadLetters: dead})
	e.publish(report("inc", 1, triaged.EventOpened), report("inc", 2, triaged.EventUpdated))
	testkit.Eventually(t, 10*time.Second, "the update delivered", func() bool { return len(sink.got()) >= 1 })
	r.stop(t)
	if got := sink.got(); len(got) != 1 || got[0].Report != "inc.2.updated" {
		t.Fatalf("posted %+v, want only inc.2.updated", got)
	}
	if calls := sink.attempts(); len(calls) != 2 {
		t.Errorf("%d attempts, want 2: a permanent failure is not retried", len(calls))
	}
	m, err := e.topo.DeadLetters.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(broker.HeaderReason) != broker.ReasonPermanent || m.Header.Get(broker.HeaderError) != "delivery to sink chat: channel_not_found" {
		t.Errorf("dead letter headers %v", m.Header)
	}
	if got := metrictest.Value(t, r.reg, "triaged_notifications_total", "sink", "chat", "result", "permanent"); got != 1 {
		t.Errorf("notifications_total{result=permanent} = %v, want 1", got)
	}
}

// A sink that panics on a report costs that report (a dead letter), not the process nor the
// incident's later reports.
func TestPanicInSinkDeadLettersTheReport(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	sink := &chat{}
	sink.hook = func(d notify.Delivery) error {
		if d.Report.ID == "inc.1.opened" {
			panic("bug in the sink")
		}
		return nil
	}
	dead := broker.NewDeadLetters(e.js, e.names, outbox.MaxDeliveries, nil, nil)
	r := e.start(sink, outbox.Options{DeadLetters: dead})
	e.publish(report("inc", 1, triaged.EventOpened), report("inc", 2, triaged.EventUpdated))
	testkit.Eventually(t, 10*time.Second, "the update delivered", func() bool { return len(sink.got()) >= 1 })
	r.stop(t)
	m, err := e.topo.DeadLetters.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(broker.HeaderReason) != broker.ReasonPanic {
		t.Errorf("dead letter headers %v, want reason %s", m.Header, broker.ReasonPanic)
	}
}

// A report failing on every delivery allowed is set aside and the sink gets the incident's next
// one, and reports that are not reports are dead-lettered (issue 9).
func TestExhaustedAndUndecodableAreDeadLettered(t *testing.T) {
	o := broker.DefaultTopologyOptions()
	e := newEnv(t, o)
	sink := &chat{}
	sink.hook = func(d notify.Delivery) error {
		if d.Report.ID == "inc.1.opened" {
			return errors.New("receiver down")
		}
		return nil
	}
	dead := broker.NewDeadLetters(e.js, e.names, 3, nil, nil)
	r := e.start(sink, outbox.Options{DeadLetters: dead})
	if _, err := e.js.Publish(context.Background(), e.names.ReportSubject(triaged.EventOpened, triaged.P1), []byte("{broken")); err != nil {
		t.Fatal(err)
	}
	e.publish(report("inc", 1, triaged.EventOpened), report("inc", 2, triaged.EventUpdated))
	testkit.Eventually(t, 10*time.Second, "the update delivered", func() bool { return len(sink.got()) >= 1 })
	r.stop(t)
	if got := sink.got(); len(got) != 1 || got[0].Report != "inc.2.updated" {
		t.Fatalf("posted %+v, want only inc.2.updated", got)
	}
	reasons := map[string]bool{}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := e.topo.DeadLetters.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		reasons[m.Header.Get(broker.HeaderReason)] = true
	}
	if !reasons[broker.ReasonExhausted] || !reasons[broker.ReasonUndecodable] {
		t.Errorf("dead letter reasons %v, want %s and %s", reasons, broker.ReasonExhausted, broker.ReasonUndecodable)
	}
	for result, want := range map[string]float64{"failure": 2, "exhausted": 1, "undecodable": 1, "success": 1} {
		if got := metrictest.Value(t, r.reg, "triaged_notifications_total", "sink", "chat", "result", result); got != want {
			t.Errorf("notifications_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

// Routing decides which reports a sink gets and in which channel; the others are acknowledged
// and counted, and do not hold up the incident.
func TestRouteSkipsAndPicksTheChannel(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	sink := &chat{}
	route := func(rep *triaged.Report) (string, bool) {
		return "#inc-" + rep.IncidentID, rep.Event != triaged.EventUpdated
	}
	r := e.start(sink, outbox.Options{Route: route})
	e.publish(report("a", 1, triaged.EventOpened), report("a", 2, triaged.EventUpdated), report("a", 3, triaged.EventResolved))
	testkit.Eventually(t, 10*time.Second, "the resolution delivered", func() bool { return len(sink.got()) >= 2 })
	r.stop(t)
	checkThreads(t, sink.got(), map[string][]string{"a": {"a.1.opened", "a.3.resolved"}})
	if got := sink.got(); got[0].Channel != "#inc-a" {
		t.Errorf("posted in %q, want #inc-a", got[0].Channel)
	}
	if got := metrictest.Value(t, r.reg, "triaged_notifications_total", "sink", "chat", "result", "unrouted"); got != 1 {
		t.Errorf("notifications_total{result=unrouted} = %v, want 1", got)
	}
}

// The outcome of a delivered report cannot be recorded for a while: the deliveries bucket lost
// its leader with a NATS node (here: deleted, and made again 1.5 s later, longer than the 0.6 s
// the outcome was once retried for). The outcome is recorded once the bucket is back, and the
// report is not delivered again — which a sink that cannot find what it posted (stdout, a file, a
// webhook) would show twice.
func TestDeliveryIsRecordedOnceTheBucketIsBack(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	ctx := context.Background()
	sink := &chat{}
	var once sync.Once
	back := make(chan struct{})
	sink.hook = func(notify.Delivery) error {
		once.Do(func() {
			if err := e.js.DeleteKeyValue(ctx, e.names.DeliveriesBucket()); err != nil {
				t.Error(err)
			}
			go func() {
				defer close(back)
				time.Sleep(1500 * time.Millisecond) // the outage
				if _, err := broker.Ensure(ctx, e.js, e.names, e.o); err != nil {
					t.Error(err)
				}
			}()
		})
		return nil
	}
	r := e.start(sink, outbox.Options{})
	e.publish(report("inc", 1, triaged.EventOpened))
	<-back
	e.publish(report("inc", 2, triaged.EventResolved))
	testkit.Eventually(t, 10*time.Second, "the resolution delivered", func() bool { return len(sink.got()) >= 2 })
	r.stop(t)
	checkThreads(t, sink.got(), map[string][]string{"inc": {"inc.1.opened", "inc.2.resolved"}})
	var openings []notify.Delivery
	for _, c := range sink.attempts() {
		if c.Report.ID == "inc.1.opened" {
			openings = append(openings, c)
		}
	}
	if len(openings) != 1 {
		t.Errorf("the opening was delivered %d times (maybe-posted: %v), want once: its outcome was not recorded when the bucket came back", len(openings), openings[len(openings)-1].MaybePosted)
	}
}

// A report comes again while another process's attempt at it is live: that process posted it
// and, its NATS node stalled, lost the message (its in-progress acknowledgements went nowhere)
// and is still recording the outcome. The report waits for that attempt instead of being posted
// a second time; once the other process records it, it is a duplicate. (TestClusterPartition
// printed a report twice so.)
func TestReportWaitsForAnotherProcessAttempt(t *testing.T) {
	e := newEnv(t, broker.DefaultTopologyOptions())
	kv, err := e.js.KeyValue(context.Background(), e.names.DeliveriesBucket())
	if err != nil {
		t.Fatal(err)
	}
	// What the other process wrote before calling its sink.
	due := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	rev, err := kv.Create(context.Background(), "chat.inc", []byte(`{"last":0,"intent":{"id":"inc.1.opened","n":1,"unsure":true,"due":"`+due+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	sink := &chat{}
	r := e.start(sink, outbox.Options{})
	e.publish(report("inc", 1, triaged.EventOpened))
	time.Sleep(time.Second)
	if got := sink.got(); len(got) != 0 {
		t.Fatalf("the report was delivered during the other attempt: %v", got)
	}
	// The other process records its outcome.
	if _, err := kv.Update(context.Background(), "chat.inc", []byte(`{"last":1,"done":[{"id":"inc.1.opened"}]}`), rev); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the report found delivered", func() bool {
		return metrictest.Value(t, r.reg, "triaged_notifications_total", "sink", "chat", "result", "duplicate") == 1
	})
	r.stop(t)
	if got := sink.got(); len(got) != 0 {
		t.Errorf("the report the other process delivered was delivered again: %v", got)
	}
}
