package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/ingest"
	"github.com/triaged/triaged/internal/natstest"
)

// bareHandler is the yardstick of BenchmarkIngest: it only decodes the webhook and publishes the
// same alerts, with the same message ids, to the same JetStream, waiting for every ack.
type bareHandler struct {
	js    jetstream.JetStream
	names broker.Names
}

func (h bareHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var msg triaged.Webhook
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msg.Alerts))
	for _, a := range msg.Alerts {
		ta := triaged.Alert{Alert: a}
		data, _ := json.Marshal(a)
		f, err := h.js.PublishMsgAsync(&nats.Msg{Subject: h.names.AlertSubject(a.Status), Data: data}, jetstream.WithMsgID(ta.MsgID()))
		if err != nil {
			http.Error(w, err.Error(), 503)
			return
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			http.Error(w, err.Error(), 503)
			return
		}
	}
}

// webhookBodies makes distinct 10-alert webhooks from the captured one, so deduplication never
// turns a publish into a no-op.
type webhookBodies struct {
	template []byte
	n        atomic.Uint64
}

func newWebhookBodies(b *testing.B) *webhookBodies {
	t := payload(b, "firing-10-alerts.json")
	var msg triaged.Webhook
	if err := json.Unmarshal(t, &msg); err != nil {
		b.Fatal(err)
	}
	// Replace each fingerprint by a placeholder of the same length filled per request.
	s := string(t)
	for i, a := range msg.Alerts {
		s = strings.Replace(s, `"fingerprint":"`+a.Fingerprint+`"`, fmt.Sprintf(`"fingerprint":"%02dXXXXXXXXXXXXXX"`, i), 1)
	}
	return &webhookBodies{template: []byte(s)}
}

func (w *webhookBodies) next() []byte {
	id := fmt.Sprintf("%014x", w.n.Add(1))
	return bytes.ReplaceAll(w.template, []byte("XXXXXXXXXXXXXX"), []byte(id))
}

// BenchmarkIngest compares triaged's webhook handler with the bare handler on the same
// JetStream file storage, each on its own stream. The two run in alternating rounds of 200
// webhooks (8 concurrent senders), so drift in the machine's load affects both alike; the
// benchmark reports each one's alerts/s and triaged's share of the bare throughput.
//
//	go test -run '^$' -bench Ingest -benchtime 20000x ./ingest/
func BenchmarkIngest(b *testing.B) {
	ns := natstest.Server(b)
	_, js := natstest.Connect(b, ns)
	handler := func(name string) http.Handler {
		names := broker.MustNames("bench" + name)
		if _, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions()); err != nil {
			b.Fatal(err)
		}
		if name == "triaged" {
			return ingest.NewAlertsHandler(broker.NewAlertPublisher(js, names), ingest.Options{Registerer: prometheus.NewRegistry()})
		}
		return bareHandler{js: js, names: names}
	}
	handlers := []http.Handler{handler("bare"), handler("triaged")}
	var elapsed [2]time.Duration
	bodies := newWebhookBodies(b)
	const round, senders = 200, 8
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		for i, h := range handlers {
			start := time.Now()
			var wg sync.WaitGroup
			var next atomic.Int64
			for range senders {
				wg.Go(func() {
					for next.Add(1) <= int64(n) {
						req := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", bytes.NewReader(bodies.next()))
						req.Header.Set("Content-Type", "application/json")
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK {
							b.Errorf("status %d: %s", rec.Code, rec.Body)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed[i] += time.Since(start)
		}
	}
	alerts := float64(b.N * 10)
	bare, ours := alerts/elapsed[0].Seconds(), alerts/elapsed[1].Seconds()
	b.ReportMetric(bare, "bare-alerts/s")
	b.ReportMetric(ours, "triaged-alerts/s")
	b.ReportMetric(100*ours/bare, "%-of-bare")
}
