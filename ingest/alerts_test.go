package ingest_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/ingest"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
)

const payloads = "../testdata/alertmanager"

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(payloads, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setup returns a handler publishing to a real JetStream and the alerts stream it fills.
func setup(t *testing.T) (http.Handler, jetstream.Stream, *prometheus.Registry) {
	t.Helper()
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	topo, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := ingest.NewAlertsHandler(broker.NewAlertPublisher(js, names), ingest.Options{MaxBodyBytes: 8 << 10, Registerer: reg})
	return h, topo.Alerts, reg
}

func post(h http.Handler, method, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/api/v1/alerts", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "Alertmanager/0.25.0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func storedMessages(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestBadInputIsRefusedWholeWithAReason(t *testing.T) {
	h, stream, _ := setup(t)
	good := payload(t, "firing-3-alerts.json")
	edit := func(from, to string) []byte { return []byte(strings.Replace(string(good), from, to, 1)) }
	tests := []struct {
		name        string
		method      string
		contentType string
		body        []byte
		code        int
		reason      string
	}{
		{"wrong method", http.MethodGet, "application/json", nil, 405, "method GET not allowed"},
		{"wrong content type", http.MethodPost, "text/plain", good, 415, `content type "text/plain" not supported`},
		{"no content type", http.MethodPost, "", good, 415, `content type "" not supported`},
		{"body over the limit", http.MethodPost, "application/json", bytes.Repeat([]byte(" "), 9<<10), 413, "body larger than the limit of 8192 bytes"},
		{"malformed JSON", http.MethodPost, "application/json", good[:100], 400, "malformed webhook JSON: line 1, column 101: unexpected end of JSON input"},
		{"wrong JSON type", http.MethodPost, "application/json", []byte(`{"alerts": 3}`), 400, "malformed webhook JSON: line 1, column 13: json: cannot unmarshal number"},
		{"not a webhook", http.MethodPost, "application/json", []byte(`{"hello":"world"}`), 400, `not an Alertmanager webhook: no "version" field`},
		{"a JSON array", http.MethodPost, "application/json", []byte(`[1,2]`), 400, "malformed webhook JSON"},
		{"other version", http.MethodPost, "application/json", edit(`"version":"4"`, `"version":"3"`), 400, `unsupported webhook version "3": want "4"`},
		{"no alerts", http.MethodPost, "application/json", []byte(`{"version":"4","status":"firing","alerts":[]}`), 400, `"alerts" is empty or missing`},
		{"bad status in the last alert", http.MethodPost, "application/json", edit(`"status":"firing","labels":{"alertname":"TargetDown","cluster":"peers-local","env":"staging","instance":"127.0.0.1:19993"`, `"status":"burning","labels":{"alertname":"TargetDown","cluster":"peers-local","env":"staging","instance":"127.0.0.1:19993"`), 400, `alerts[2].status: "burning" is neither "firing" nor "resolved"`},
		{"no labels", http.MethodPost, "application/json", []byte(`{"version":"4","alerts":[{"status":"firing","labels":{},"startsAt":"2026-11-26T15:08:31Z"}]}`), 400, "alerts[0].labels: empty"},
		{"no startsAt", http.MethodPost, "application/json", []byte(`{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"}}]}`), 400, "alerts[0].startsAt: missing"},
		{"startsAt before year 1 in UTC", http.MethodPost, "application/json", []byte(`{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"0000-01-01T00:30:00+01:00"}]}`), 400, "alerts[0].startsAt: 0000-01-01T00:30:00+01:00 is outside years 0001–9999 in UTC"},
		{"hostile fingerprint", http.MethodPost, "application/json", []byte(`{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z","fingerprint":"x.>"}]}`), 400, `alerts[0].fingerprint: "x.>" is not hexadecimal`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(h, tt.method, tt.contentType, tt.body)
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.code, rec.Body)
			}
			body := rec.Body.String()
			if !strings.Contains(body, tt.reason) {
				t.Errorf("reason %q does not contain %q", body, tt.reason)
			}
			if strings.Count(strings.TrimSpace(body), "\n") != 0 {
				t.Errorf("reason is not one line: %q", body)
			}
			if tt.code == 405 && rec.Header().Get("Allow") != http.MethodPost {
				t.Errorf("405 without Allow: POST")
			}
		})
	}
	if n := storedMessages(t, stream); n != 0 {
		t.Fatalf("%d messages reached the alerts stream from refused requests", n)
	}
}

func TestResentWebhookIsStoredOnce(t *testing.T) {
	h, stream, reg := setup(t)
	body := payload(t, "firing-10-alerts.json")
	for range 3 {
		if rec := post(h, http.MethodPost, "application/json", body); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	if n := storedMessages(t, stream); n != 1 {
		t.Fatalf("stream holds %d messages after 3 identical webhooks of one group, want 1", n)
	}
	if got := metrictest.Value(t, reg, "triaged_alerts_deduplicated_total"); got != 20 {
		t.Errorf("triaged_alerts_deduplicated_total = %v, want the 20 alerts of the 2 resends", got)
	}
	// The same alerts resolved are new facts and are stored.
	resolved := strings.ReplaceAll(string(body), `"status":"firing"`, `"status":"resolved"`)
	if rec := post(h, http.MethodPost, "application/json", []byte(resolved)); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if n := storedMessages(t, stream); n != 2 {
		t.Fatalf("stream holds %d messages, want 2", n)
	}
	if got := metrictest.Value(t, reg, "triaged_webhook_requests_total", "code", "200"); got != 4 {
		t.Errorf("webhook_requests_total{code=200} = %v, want 4", got)
	}
}

func TestTruncatedWebhookIsCounted(t *testing.T) {
	h, _, reg := setup(t)
	body := strings.Replace(string(payload(t, "firing-3-alerts.json")), `"truncatedAlerts":0`, `"truncatedAlerts":7`, 1)
	if rec := post(h, http.MethodPost, "application/json", []byte(body)); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := metrictest.Value(t, reg, "triaged_webhook_truncated_total"); got != 1 {
		t.Errorf("triaged_webhook_truncated_total = %v, want 1", got)
	}
	if got := metrictest.Value(t, reg, "triaged_alerts_truncated_total"); got != 7 {
		t.Errorf("triaged_alerts_truncated_total = %v, want 7", got)
	}
}

func TestUnpersistableWebhookGets503(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	// No streams exist: JetStream cannot store the alerts, so Alertmanager must retry.
	h := ingest.NewAlertsHandler(broker.NewAlertPublisher(js, broker.MustNames("triaged")), ingest.Options{PublishTimeout: 2 * time.Second, Registerer: prometheus.NewRegistry()})
	rec := post(h, http.MethodPost, "application/json", payload(t, "firing-1-alert.json"))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
	}
	if !strings.Contains(rec.Body.String(), "persist alerts: publish notification of group {}:{alertname=\"") {
		t.Errorf("reason %q does not name the group that failed", rec.Body)
	}
}
