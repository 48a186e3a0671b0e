package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/ingest"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
)

// setupWith is setup with the handler's options in the caller's hands (publisher and registry
// filled in).
func setupWith(t *testing.T, o ingest.Options) (http.Handler, *prometheus.Registry, func() uint64) {
	t.Helper()
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	topo, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	storedBytes := func() uint64 {
		info, err := topo.Alerts.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Bytes
	}
	return ingest.NewAlertsHandler(broker.NewAlertPublisher(js, names), o), reg, storedBytes
}

func alertJSON(i int, labels, annotations map[string]string) map[string]any {
	l := map[string]string{"alertname": "Big", "i": fmt.Sprint(i)}
	for k, v := range labels {
		l[k] = v
	}
	return map[string]any{"status": "firing", "labels": l, "annotations": annotations, "startsAt": "2026-11-26T15:08:31Z",
		"endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0", "fingerprint": fmt.Sprintf("%016x", i)}
}

func webhookJSON(t *testing.T, commonLabels map[string]string, alerts []map[string]any) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "triaged", "groupKey": `{}:{alertname="Big"}`,
		"groupLabels": map[string]string{"alertname": "Big"}, "commonLabels": commonLabels, "externalURL": "http://alertmanager:9093", "alerts": alerts})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// An alert that can never be stored gets 413 naming the field before anything of its webhook is
// stored. A label of 1.5 MB used to make a message over NATS' maximum payload: 503, retried by
// Alertmanager for ever.
func TestAlertsOverALimitGet413AndNothingIsStored(t *testing.T) {
	h, reg, stored := setupWith(t, ingest.Options{MaxBodyBytes: 4 << 20})
	many := `{"version":"4","alerts":[` + strings.Repeat(`{"status":"firing","labels":{"i":"0"},"startsAt":"2026-11-26T15:08:31Z"},`, 10000) +
		`{"status":"firing","labels":{"i":"1"},"startsAt":"2026-11-26T15:08:31Z"}]}`
	tests := []struct {
		name   string
		body   []byte
		reason string
	}{
		{"a label of 1.5 MB in the last alert", webhookJSON(t, nil, []map[string]any{alertJSON(0, nil, nil), alertJSON(1, map[string]string{"foo": strings.Repeat("x", 1536<<10)}, nil)}),
			"alerts[1].labels.foo: value is 1572864 bytes, limit 16384"},
		{"an annotation of 700 KB", webhookJSON(t, nil, []map[string]any{alertJSON(0, nil, map[string]string{"description": strings.Repeat("x", 700000)})}),
			"alerts[0].annotations.description: value is 700000 bytes, limit 65536"},
		{"an alert of 200 KB", webhookJSON(t, nil, []map[string]any{alertJSON(0, nil, map[string]string{"a": strings.Repeat("x", 60000), "b": strings.Repeat("x", 60000), "c": strings.Repeat("x", 60000), "d": strings.Repeat("x", 20000)})}),
			"alerts[0]: labels, annotations and generatorURL take 200"},
		{"10,001 alerts", []byte(many), "alerts: 10001 alerts, limit 10000: set max_alerts on Alertmanager's webhook receiver below it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(h, http.MethodPost, "application/json", tt.body)
			if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), tt.reason) {
				t.Fatalf("%d %q, want 413 %q", rec.Code, rec.Body, tt.reason)
			}
		})
	}
	if n := stored(); n != 0 {
		t.Errorf("refused webhooks stored %d bytes", n)
	}
	if got := metrictest.Value(t, reg, "triaged_webhook_requests_total", "code", "413"); got != float64(len(tests)) {
		t.Errorf("webhook_requests_total{code=413} = %v, want %d", got, len(tests))
	}
}

// What a webhook stores stays a small multiple of its body. Every message repeats the group's
// context; with 100 alerts a message, a large context and many small alerts stored it once per 100
// alerts (a 610 KB webhook once wrote 1.2 GB when it was once per alert).
func TestStoredBytesStayASmallMultipleOfTheWebhook(t *testing.T) {
	h, _, stored := setupWith(t, ingest.Options{MaxBodyBytes: 4 << 20})
	common := map[string]string{"alertname": "Big"}
	for i := range 7 {
		common[fmt.Sprintf("c%d", i)] = strings.Repeat("c", 16<<10)
	}
	for _, tt := range []struct {
		name string
		body []byte
	}{
		{"large context, one alert", webhookJSON(t, common, []map[string]any{alertJSON(0, nil, nil)})},
		{"large context, small alerts", func() []byte {
			var small []map[string]any
			for i := range 1500 {
				small = append(small, alertJSON(i, nil, nil))
			}
			return webhookJSON(t, common, small)
		}()},
		{"10 alerts of 100 KB", func() []byte {
			var big []map[string]any
			for i := range 10 {
				big = append(big, alertJSON(i, nil, map[string]string{"a": strings.Repeat("a", 50000), "b": strings.Repeat("b", 50000)}))
			}
			return webhookJSON(t, nil, big)
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := stored()
			if rec := post(h, http.MethodPost, "application/json", tt.body); rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if n := stored() - before; n > 2*uint64(len(tt.body)) {
				t.Errorf("a webhook of %d bytes stored %d bytes on the alerts stream (%.1f times)", len(tt.body), n, float64(n)/float64(len(tt.body)))
			}
		})
	}
}

// blockingBody is a request body that sends nothing until released: a webhook holding its share
// of the in-flight bytes.
type blockingBody struct {
	release chan struct{}
	r       io.Reader
}

func (b *blockingBody) Read(p []byte) (int, error) {
	<-b.release
	return b.r.Read(p)
}

// The bodies handled at once are bounded in bytes: past the bound, a webhook waits, then gets 503
// with Retry-After; what was held is given back when a webhook is answered.
func TestInflightBytesAreBounded(t *testing.T) {
	body := payload(t, "firing-1-alert.json")
	h, reg, _ := setupWith(t, ingest.Options{MaxBodyBytes: 4 << 10, MaxInflightBytes: 4 << 10, PublishTimeout: 200 * time.Millisecond})
	held := &blockingBody{release: make(chan struct{}), r: strings.NewReader(string(body))}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", held)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1 // no Content-Length: it takes the body limit, all of the bound
	first := httptest.NewRecorder()
	var wg sync.WaitGroup
	wg.Go(func() { h.ServeHTTP(first, req) })
	testkit.Eventually(t, 5*time.Second, "the first webhook holds the in-flight bytes", func() bool {
		return metrictest.Value(t, reg, "triaged_webhook_inflight_bytes") == 4<<10
	})

	rec := post(h, http.MethodPost, "application/json", body)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), "too many webhook bodies in flight: 930 more bytes would exceed ingest.max_inflight_bytes 4096") {
		t.Fatalf("%d %q (Retry-After %q), want 503 naming the bound", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	if got := metrictest.Value(t, reg, "triaged_webhook_inflight_refused_total"); got != 1 {
		t.Errorf("triaged_webhook_inflight_refused_total = %v, want 1", got)
	}

	close(held.release)
	wg.Wait()
	if first.Code != http.StatusOK {
		t.Fatalf("the held webhook: %d %s", first.Code, first.Body)
	}
	if got := metrictest.Value(t, reg, "triaged_webhook_inflight_bytes"); got != 0 {
		t.Errorf("triaged_webhook_inflight_bytes = %v after every webhook was answered", got)
	}
	if rec := post(h, http.MethodPost, "application/json", body); rec.Code != http.StatusOK {
		t.Fatalf("after the bound was given back: %d %s", rec.Code, rec.Body)
	}
}
