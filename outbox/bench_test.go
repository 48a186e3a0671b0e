package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

// receiver is a local chat service: it answers every request after a delay, with 500 until
// failUntil and 200 after, and records what it accepted per incident.
type receiver struct {
	delay     time.Duration
	failUntil time.Time
	mu        sync.Mutex
	accepted  map[string][]string // incident → report ids, in the order accepted
	total     int
	first     time.Time // first acceptance
	last      time.Time // latest acceptance
	opened    int
	allOpened time.Time // when the last incident's opening was accepted
	incidents int
}

type benchPost struct {
	Incident string `json:"incident"`
	Report   string `json:"report"`
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(rc.delay)
	if time.Now().Before(rc.failUntil) {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	var p benchPost
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	rc.mu.Lock()
	rc.accepted[p.Incident] = append(rc.accepted[p.Incident], p.Report)
	rc.total++
	if len(rc.accepted[p.Incident]) == 1 {
		if rc.opened++; rc.opened == rc.incidents {
			rc.allOpened = now
		}
	}
	if rc.first.IsZero() {
		rc.first = now
	}
	rc.last = now
	rc.mu.Unlock()
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.total
}

// httpSink POSTs each report to a receiver, as a webhook sink does.
type httpSink struct {
	url    string
	client *http.Client
}

func (s *httpSink) Name() string { return "chat" }

func (s *httpSink) Deliver(ctx context.Context, d notify.Delivery) (*notify.Thread, error) {
	body, _ := json.Marshal(benchPost{Incident: d.Report.IncidentID, Report: d.Report.ID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return &notify.Thread{RootID: d.Report.IncidentID}, nil
}

// runDeliveryBench publishes an opening and an update for each of incidents to one sink whose
// receiver answers after 20ms (with 500 during the outage from the start), waits until every
// report arrived, and checks each arrived once, in order.
func runDeliveryBench(b *testing.B, incidents int, outage time.Duration) (rc *receiver, published time.Time) {
	b.Helper()
	e := newEnv(b, broker.DefaultTopologyOptions())
	rc = &receiver{delay: 20 * time.Millisecond, accepted: map[string][]string{}, incidents: incidents, failUntil: time.Now().Add(outage)}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	concurrency := benchConcurrency()
	tr := &http.Transport{MaxIdleConnsPerHost: 1024}
	defer tr.CloseIdleConnections()
	sink := &httpSink{url: srv.URL, client: &http.Client{Transport: tr}}
	r := e.start(sink, outbox.Options{Concurrency: concurrency, RetryBackoff: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}})
	defer r.stop(b)
	reps := make([]*triaged.Report, 0, 2*incidents)
	for i := range incidents {
		reps = append(reps, report(fmt.Sprintf("inc-%05d", i), 1, triaged.EventOpened))
	}
	for i := range incidents {
		reps = append(reps, report(fmt.Sprintf("inc-%05d", i), 2, triaged.EventUpdated))
	}
	published = time.Now()
	for _, rep := range reps {
		data, _ := json.Marshal(rep)
		if _, err := e.js.PublishAsync(e.names.ReportSubject(rep.Event, rep.Severity), data); err != nil {
			b.Fatal(err)
		}
	}
	<-e.js.PublishAsyncComplete()
	deadline := time.Now().Add(outage + 2*time.Minute)
	for rc.count() < len(reps) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d reports delivered", rc.count(), len(reps))
		}
		time.Sleep(10 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for inc, ids := range rc.accepted {
		if len(ids) != 2 || ids[0] != inc+".1.opened" || ids[1] != inc+".2.updated" {
			b.Fatalf("incident %s: received %v, want its opening, then its update, once each", inc, ids)
		}
	}
	return rc, published
}

// BenchmarkDeliverNewIncidents: 1,000 new incidents, each opened and then updated, to one sink
// whose receiver answers each request after 20ms.
func BenchmarkDeliverNewIncidents(b *testing.B) {
	for range b.N {
		rc, published := runDeliveryBench(b, 1000, 0)
		b.ReportMetric(rc.allOpened.Sub(published).Seconds(), "s-1000-openings")
		b.ReportMetric(rc.last.Sub(published).Seconds(), "s-all-2000-reports")
		b.ReportMetric(float64(rc.total)/rc.last.Sub(published).Seconds(), "reports/s")
	}
}

// BenchmarkDeliverAfterOutage: the receiver answers 500 for 30s (TRIAGED_BENCH_OUTAGE), then
// 200 after 20ms; 2,500 incidents' openings and updates are published at the start, and the
// backlog drains once it is back.
func BenchmarkDeliverAfterOutage(b *testing.B) {
	outage := 30 * time.Second
	if v, err := time.ParseDuration(os.Getenv("TRIAGED_BENCH_OUTAGE")); err == nil {
		outage = v
	}
	for range b.N {
		rc, _ := runDeliveryBench(b, 2500, outage)
		b.ReportMetric(float64(rc.total)/rc.last.Sub(rc.first).Seconds(), "drained-reports/s")
		b.ReportMetric(rc.first.Sub(rc.failUntil).Seconds(), "s-first-delivery-after-recovery")
	}
}

// benchConcurrency is TRIAGED_BENCH_CONCURRENCY, or 0 for the default.
func benchConcurrency() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("TRIAGED_BENCH_CONCURRENCY"), &n); err != nil {
		return 0
	}
	return n
}
