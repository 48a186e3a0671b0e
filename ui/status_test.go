package ui

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func newUI(t *testing.T, o Options) *UI {
	t.Helper()
	if o.Version == "" {
		o.Version = "test"
	}
	u, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// main is the page's <main> element: what a golden file compares, without the shared layout.
func mainOf(t *testing.T, page string) string {
	t.Helper()
	i, j := strings.Index(page, "<main"), strings.Index(page, "</main>")
	if i < 0 || j < i {
		t.Fatalf("no <main> in %s", page)
	}
	return page[i : j+len("</main>")]
}

// inline finds what the CSP would block, and so what must never be in a page: inline scripts,
// inline styles and event handler attributes.
var inline = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<script>|<[^>]*\sstyle=|<[^>]*\son[a-z]+=|<[^>]*(href|src)="?javascript:`)

// TestToolPagesWithoutSources: every page renders, says what it lacks, and carries nothing
// the CSP would block.
func TestToolPagesWithoutSources(t *testing.T) {
	u := newUI(t, Options{})
	for _, tc := range []struct{ path, want string }{
		{"/rules", "The rules are not available here."},
		{"/playground", `id="pg-alert"`},
		{"/deploys", "The deploy index is not available here."},
		{"/dead-letters", "The dead letters are not available here."},
		{"/status", "The daemon's status is not available here."},
	} {
		code, body := get(t, u, tc.path)
		if code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d, want 200 with %q:\n%s", tc.path, code, tc.want, body)
		}
		if m := inline.FindString(body); m != "" {
			t.Errorf("GET %s: %q, which the CSP blocks", tc.path, m)
		}
		if !strings.Contains(body, `aria-current="page"`) {
			t.Errorf("GET %s: no current tab", tc.path)
		}
	}
}

type fakeStatus struct {
	streams func(ctx context.Context) []StreamStatus
}

func (f fakeStatus) Connection() Connection {
	return Connection{Connected: true, State: "CONNECTED", Embedded: true, URL: "nats://127.0.0.1:4222", Server: "n1", Cluster: "c1", Reconnect: 2}
}
func (f fakeStatus) Streams(ctx context.Context) []StreamStatus { return f.streams(ctx) }
func (f fakeStatus) Sinks() []SinkStatus {
	return []SinkStatus{{Name: "slack", Type: "slack", Channel: "#ops", Consumer: "SINK_slack"}, {Name: "gone", Type: "file", Consumer: "SINK_gone"}}
}
func (f fakeStatus) Limits() []Setting {
	return []Setting{{"ingest.max_body_bytes", "4.0 MiB"}, {"nats.alerts_max_age", "24h0m0s"}}
}
func (f fakeStatus) Endpoints() []Endpoint {
	return []Endpoint{{Method: "POST", Path: "/api/v1/alerts", About: "Alertmanager webhook", Write: true}}
}

// TestStatusPageIsBounded: a NATS read that answers in part shows the parts it could not read
// as unknown with why; one that does not answer at all, even ignoring its context, leaves the
// page answering in bounded time with the streams unknown.
func TestStatusPageIsBounded(t *testing.T) {
	const timeout = 50 * time.Millisecond
	release := make(chan struct{})
	defer close(release)
	for _, tc := range []struct {
		name    string
		streams func(ctx context.Context) []StreamStatus
		want    []string
	}{
		{"partial", func(ctx context.Context) []StreamStatus {
			return []StreamStatus{
				{Name: "TRIAGED_ALERTS", Messages: 12, Bytes: 3 << 20, MaxBytes: 1 << 30, MaxAge: 24 * time.Hour, Replicas: 3, Leader: "n2",
					Consumers: []ConsumerStatus{{Name: "triage", Pending: 5, AckPending: 2}, {Name: "SINK_slack", Pending: 7, AckPending: 1}, {Name: "SINK_gone", Err: "consumer not found"}}},
				{Name: "TRIAGED_REPORTS", Err: "context deadline exceeded"},
			}
		}, []string{
			`<code>TRIAGED_ALERTS</code>`, `3.0 MiB`, `1.0 GiB`, `24h0m0s`, `3 · n2`,
			`<td class="num">5</td><td class="num">2</td>`,
			`<code>TRIAGED_REPORTS</code></th><td colspan="8" class="error">unknown: context deadline exceeded`,
			// the sinks' backlog, from their consumers
			`<code>SINK_slack</code></td><td class="num">7</td><td class="num">1</td>`,
			`<code>SINK_gone</code></td><td colspan="2" class="error">unknown: consumer not found`,
			"● connected", "c1", "<code>ingest.max_body_bytes</code></td><td>4.0 MiB", "<code>/api/v1/alerts</code>",
		}},
		{"hung", func(context.Context) []StreamStatus {
			<-release // ignores its context
			return nil
		}, []string{
			"Streams unknown: no answer within 50ms",
			`<code>SINK_slack</code></td><td colspan="2" class="muted">unknown: consumer not read`,
			"● connected",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUI(t, Options{Status: fakeStatus{streams: tc.streams}, ReadTimeout: timeout})
			start := time.Now()
			code, body := get(t, u, "/status")
			if took := time.Since(start); took > 20*timeout {
				t.Errorf("took %s", took) // a hang, not a timing assertion: the bound is 20× the grace
			}
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q in\n%s", w, mainOf(t, body))
				}
			}
		})
	}
}

func TestBoundedErrSaysWhy(t *testing.T) {
	_, err := boundedErr(context.Background(), 10*time.Millisecond, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if err == nil || !strings.Contains(err.Error(), "no answer within 10ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
	v, err := boundedErr(context.Background(), time.Second, func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Errorf("%d %v", v, err)
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {256 << 20, "256.0 MiB"}, {1 << 30, "1.0 GiB"}} {
		if got := byteSize(tc.n); got != tc.want {
			t.Errorf("byteSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
