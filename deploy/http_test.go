package deploy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
)

var names = broker.MustNames("triaged")

// setup runs a real JetStream server with the deploys stream.
func setup(t *testing.T) (*nats.Conn, jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	nc, js := natstest.Connect(t, natstest.Server(t))
	s, err := EnsureStream(context.Background(), js, names, 0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js, s
}

func streamMsgs(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func post(t *testing.T, h http.Handler, method, contentType, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, "/api/v1/deploys", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestEnsureStream(t *testing.T) {
	_, js, s := setup(t)
	cfg := s.CachedInfo().Config
	if cfg.MaxAge != DefaultMaxAge || cfg.Storage != jetstream.FileStorage || cfg.Retention != jetstream.LimitsPolicy ||
		cfg.Duplicates != DuplicateWindow || cfg.Subjects[0] != "triaged.deploys.>" || cfg.Name != "TRIAGED_DEPLOYS" ||
		cfg.MaxBytes != DefaultMaxBytes || cfg.Discard != jetstream.DiscardOld {
		t.Errorf("stream config: %+v", cfg)
	}
	// Idempotent, and a max age shorter than the duplicate window still works.
	s, err := EnsureStream(context.Background(), js, names, 30*time.Minute, 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.MaxAge != 30*time.Minute || cfg.Duplicates != 30*time.Minute || cfg.MaxBytes != 1<<20 {
		t.Errorf("after update: max age %v, duplicates %v, max bytes %d", cfg.MaxAge, cfg.Duplicates, cfg.MaxBytes)
	}
}

// TestHandlerRefuses: every invalid request gets its status and a one-line reason naming the
// field at fault, and nothing reaches the stream.
func TestHandlerRefuses(t *testing.T) {
	_, js, s := setup(t)
	reg := prometheus.NewPedanticRegistry()
	h := NewHandler(NewRecorder(js, names, RecorderOptions{}), HandlerOptions{Registerer: reg})
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, method, ctype, body string
		code                      int
		want                      string
	}{
		{"service missing", "POST", "application/json", `{"version":"v1"}`, 400, "service: required"},
		{"service with dot", "POST", "application/json", `{"service":"a.b"}`, 400, `service: "a.b" is not a valid name (letters, digits, '_', '-')`},
		{"bad time", "POST", "application/json", `{"service":"checkout","time":"noon"}`, 400, `time: "noon" is not RFC 3339`},
		{"time before year 1", "POST", "application/json", `{"service":"checkout","time":"0000-01-01T00:30:00+01:00"}`, 400, `time: "0000-01-01T00:30:00+01:00" is outside the years 0001 to 9999 in UTC`},
		{"future time", "POST", "application/json", `{"service":"checkout","time":"` + future + `"}`, 400, "time: " + future + " is more than 5m in the future: check the clock or time zone"},
		{"bad url", "POST", "application/json", `{"service":"checkout","url":"file:///etc/passwd"}`, 400, "url: must be http(s)"},
		{"bad status", "POST", "application/json", `{"service":"checkout","status":"x"}`, 400, `status: "x" is not one of started, succeeded, failed, rolled_back`},
		{"unknown field", "POST", "application/json", `{"service":"checkout","sha":"abc"}`, 400, "sha: unknown field"},
		{"malformed", "POST", "application/json", `{"service":`, 400, "malformed JSON"},
		{"empty", "POST", "application/json", ``, 400, "empty body"},
		{"GET", "GET", "", "", 405, "method GET not allowed"},
		{"form", "POST", "application/x-www-form-urlencoded", "service=checkout", 415, `content type "application/x-www-form-urlencoded" not supported`},
		{"no content type", "POST", "", `{"service":"checkout"}`, 415, `content type "" not supported: want application/json`},
		{"too large", "POST", "application/json", `{"service":"checkout","author":"` + strings.Repeat("a", MaxEventSize) + `"}`, 413, "body larger than the limit of 8192 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, h, tc.method, tc.ctype, tc.body)
			if code != tc.code || !strings.HasPrefix(body, tc.want) {
				t.Errorf("got %d %q, want %d %q", code, body, tc.code, tc.want)
			}
			if strings.Count(body, "\n") != 1 {
				t.Errorf("reason %q is not one line", body)
			}
		})
	}
	if n := streamMsgs(t, s); n != 0 {
		t.Errorf("%d messages reached the stream, want 0", n)
	}
	hh := h.(*handler)
	if got := testutil.ToFloat64(hh.requests.WithLabelValues("400")); got != 10 {
		t.Errorf("requests{code=400} = %v, want 10", got)
	}
	if got := testutil.ToFloat64(hh.requests.WithLabelValues("405")); got != 1 {
		t.Errorf("requests{code=405} = %v, want 1", got)
	}
}

func TestHandlerRecords(t *testing.T) {
	_, js, s := setup(t)
	h := NewHandler(NewRecorder(js, names, RecorderOptions{}), HandlerOptions{Registerer: prometheus.NewPedanticRegistry()})
	body := `{"service":"checkout","environment":"prod","version":"v1.2.3","commit":"abc","author":"alice","url":"https://ci/123","time":"2026-11-26T16:04:05+01:00"}`

	code, got := post(t, h, "POST", "application/json; charset=utf-8", body)
	want := `{"service":"checkout","environment":"prod","version":"v1.2.3","commit":"abc","author":"alice","url":"https://ci/123","time":"2026-11-26T15:04:05Z","status":"succeeded"}` + "\n"
	if code != http.StatusCreated || got != want {
		t.Fatalf("first POST: %d %s, want 201 %s", code, got, want)
	}
	// A CI retry: stored once, answered 200 with the same event.
	code, got = post(t, h, "POST", "application/json", body)
	if code != http.StatusOK || got != want {
		t.Fatalf("retry: %d %s, want 200 %s", code, got, want)
	}
	if n := streamMsgs(t, s); n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}

	// Without a time, the server's clock fills it in.
	before := time.Now().Add(-time.Second)
	code, got = post(t, h, "POST", "application/json", `{"service":"payments","status":"started"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST without time: %d %s", code, got)
	}
	var e Event
	if err := json.Unmarshal([]byte(got), &e); err != nil {
		t.Fatal(err)
	}
	if e.Time.Before(before) || e.Time.After(time.Now()) || e.Status != StatusStarted {
		t.Errorf("stored %+v: want the time of the request and status started", e)
	}
	msg, err := s.GetLastMsgForSubject(context.Background(), "triaged.deploys.payments")
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get(SourceHeader) != SourceHTTP || msg.Header.Get(jetstream.MsgIDHeader) != "deploy:payments:::untimed::started" {
		t.Errorf("message headers %v", msg.Header)
	}
	// A CI retry of an event without a time is the same event: stored once, answered 200.
	if code, got = post(t, h, "POST", "application/json", `{"service":"payments","status":"started"}`); code != http.StatusOK {
		t.Errorf("retry without time: %d %s, want 200 (already stored)", code, got)
	}
	if n := streamMsgs(t, s); n != 2 {
		t.Errorf("stream holds %d messages, want 2", n)
	}
}

func TestHandlerUnavailable(t *testing.T) {
	_, js, _ := setup(t)
	h := NewHandler(NewRecorder(js, names, RecorderOptions{}), HandlerOptions{Registerer: prometheus.NewPedanticRegistry(), PublishTimeout: 2 * time.Second})
	if err := js.DeleteStream(context.Background(), names.DeploysStream()); err != nil {
		t.Fatal(err)
	}
	code, body := post(t, h, "POST", "application/json", `{"service":"checkout"}`)
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "persist deploy event: publish deploy event of checkout on triaged.deploys.checkout: ") {
		t.Errorf("got %d %q, want 503 naming what failed", code, body)
	}
}
