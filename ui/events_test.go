package ui

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/testkit"
)

// stream connects to the hub and returns a reader of its events.
func stream(t *testing.T, url string) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp, bufio.NewReader(resp.Body)
}

// next reads the next event, skipping heartbeats: its name and data.
func next(t *testing.T, r *bufio.Reader) (name, data string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		case line == "" && name != "":
			return name, data
		}
	}
}

func TestHubSendsEveryReportToEveryBrowser(t *testing.T) {
	x := NewIndex(10, 0, nil)
	hub := NewHub(x, HubOptions{Heartbeat: time.Millisecond})
	srv := httptest.NewServer(hub)
	defer srv.Close()
	defer hub.Close()
	_, a := stream(t, srv.URL)
	_, b := stream(t, srv.URL)
	for _, r := range []*bufio.Reader{a, b} {
		if name, _ := next(t, r); name != "ready" {
			t.Fatalf("first event %q, want ready", name)
		}
	}
	hub.Publish(report("inc-1", 1, triaged.EventOpened, triaged.P1, `P1 <b>x</b>`))
	for _, r := range []*bufio.Reader{a, b} {
		name, data := next(t, r)
		var ev liveEvent
		if err := json.Unmarshal([]byte(data), &ev); name != "report" || err != nil {
			t.Fatalf("event %q %s: %v", name, data, err)
		}
		if ev.Incident != "inc-1" || ev.Event != "opened" || ev.Title != "(1 P1) triaged" || ev.Open["P1"] != 1 || ev.Headline != "P1 <b>x</b>" {
			t.Errorf("event %+v", ev)
		}
	}
	if s := one(t, x, "inc-1"); s.Headline != "P1 <b>x</b>" {
		t.Errorf("the report was not indexed: %+v", s)
	}

	// A chat sink's message is told once; the same record read again is not news.
	rec := []byte(`{"thread":{"channel":"C1","root_id":"1","root_url":"https://chat.example.com/p/1"}}`)
	x.Thread("slack.inc-1", rec, false)
	x.Thread("slack.inc-1", rec, false)
	hub.Publish(report("inc-1", 2, triaged.EventResolved, triaged.P1, "resolved"))
	for _, want := range []string{`link {"incident":"inc-1"}`, `report {"incident":"inc-1","report":"inc-1.2.resolved"`} {
		name, data := next(t, a)
		if got := name + " " + data; !strings.HasPrefix(got, want) {
			t.Errorf("event %s, want %s…", got, want)
		}
	}
}

// TestHubBounds: past MaxClients a browser is refused, saying why; one that falls Buffer events
// behind is cut off; Close ends every stream and refuses new ones.
func TestHubBounds(t *testing.T) {
	hub := NewHub(nil, HubOptions{MaxClients: 2, Buffer: 1})
	srv := httptest.NewServer(hub)
	defer srv.Close()
	_, a := stream(t, srv.URL)
	next(t, a)
	slow, err := hub.join() // a browser that reads nothing
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the limit (ui.max_live_clients) is 2") {
		t.Errorf("a third browser: %d %s", resp.StatusCode, body)
	}
	// The reading browser takes each event before the next is published, so only the slow one
	// falls behind, however the goroutines are scheduled.
	hub.Publish(report("inc-1", 1, triaged.EventOpened, triaged.P1, "one"))
	if _, data := next(t, a); !strings.Contains(data, "one") {
		t.Errorf("the reading browser got %s, want %q", data, "one")
	}
	hub.Publish(report("inc-1", 2, triaged.EventUpdated, triaged.P1, "two"))
	select {
	case <-slow.cut:
	default:
		t.Error("a browser two events behind with a buffer of one was not cut off")
	}
	reg := prometheus.NewPedanticRegistry()
	RegisterMetrics(reg, NewIndex(10, 0, nil), hub)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP triaged_ui_live_clients Browsers following the web UI's live updates.
# TYPE triaged_ui_live_clients gauge
triaged_ui_live_clients 1
# HELP triaged_ui_live_cut_total Browsers cut off for falling too far behind the live updates (they reconnect by themselves).
# TYPE triaged_ui_live_cut_total counter
triaged_ui_live_cut_total 1
# HELP triaged_ui_live_refused_total Browsers refused live updates: ui.max_live_clients were connected, or triaged was shutting down.
# TYPE triaged_ui_live_refused_total counter
triaged_ui_live_refused_total 1
`), "triaged_ui_live_clients", "triaged_ui_live_cut_total", "triaged_ui_live_refused_total"); err != nil {
		t.Error(err)
	}
	if _, data := next(t, a); !strings.Contains(data, "two") {
		t.Errorf("the reading browser got %s, want %q", data, "two")
	}
	hub.Close()
	if _, err := io.ReadAll(a); err != nil {
		t.Errorf("stream after Close: %v, want its end", err)
	}
	testkit.Eventually(t, 5*time.Second, "no browser connected", func() bool { return hub.Clients() == 0 })
	if resp, err := http.Get(srv.URL); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %v %v, want 503", resp, err)
	} else {
		resp.Body.Close()
	}
}
