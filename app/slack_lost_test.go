package app_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/slacktest"
	"github.com/triaged/triaged/internal/testkit"
)

// lossyProxy forwards to Slack and, for the requests drop picks, throws Slack's answer away and
// answers 502: Slack posted the message, triaged does not know it.
type lossyProxy struct {
	*httptest.Server
	mu      sync.Mutex
	drop    func(method string, body []byte) bool
	dropped []string
}

func newLossyProxy(t *testing.T, slk *slacktest.Server, drop func(method string, body []byte) bool) *lossyProxy {
	p := &lossyProxy{drop: drop}
	target, err := url.Parse(slk.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target.String()+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		p.mu.Lock()
		lose := p.drop(method, body)
		if lose {
			p.dropped = append(p.dropped, method)
			p.drop = func(string, []byte) bool { return false } // once
		}
		p.mu.Unlock()
		if lose {
			http.Error(w, "upstream connection reset", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *lossyProxy) droppedOnce() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.dropped) == 1
}

// TestSlackAnswerLost: Slack posts a message but its answer is lost; the retry, marked
// maybe-posted, finds the message by its metadata instead of posting it again — the root in a
// channel given by ID, and the reply in its thread.
func TestSlackAnswerLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop func(method string, body []byte) bool
	}{
		{"root", func(m string, b []byte) bool {
			return m == "chat.postMessage" && !bytes.Contains(b, []byte(`"thread_ts"`))
		}},
		{"reply", func(m string, b []byte) bool {
			return m == "chat.postMessage" && bytes.Contains(b, []byte(`"thread_ts"`))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slk := slacktest.New(t, slackToken, slackChannels...)
			proxy := newLossyProxy(t, slk, tc.drop)
			cfg := configFile(t, reportAtOnce+`triage:
  retry_backoff: [50ms]
sinks:
  - name: stdout
    type: stdout
  - name: slack
    type: slack
    url: `+proxy.URL+`/api/
    token_file: slack-token
    channel: `+slk.ChannelID("incidents")+`
`)
			writeBeside(t, cfg, "slack-token", slackToken)
			r := start(t, app.Options{ConfigFile: cfg})
			r.postFile(t, "firing-1-alert.json")
			r.waitReports(t, 1)
			testkit.Eventually(t, testTimeout, "the report in the thread", func() bool {
				_, replies, _ := slackPosts(slk)
				return replies >= 1
			})
			r.settled(t)
			if !proxy.droppedOnce() {
				t.Fatal("no answer was lost: the test tests nothing")
			}
			roots, replies, _ := slackPosts(slk)
			if roots != 1 || replies != 1 {
				t.Errorf("Slack accepted %d roots and %d replies, want 1 and 1", roots, replies)
			}
			ids := []string{}
			for _, root := range slk.Roots("incidents") {
				for _, m := range slk.Replies("incidents", root.TS) {
					ids = append(ids, metaOf(m, "report_id"))
				}
			}
			if reps := fullReports(t, r); len(reps) != 1 || !slices.Equal(ids, []string{reps[0].ID}) {
				t.Errorf("thread holds %q, want the one report once", ids)
			}
		})
	}
}

// writeBeside writes a secret file next to the config file cfg.
func writeBeside(t *testing.T, cfg, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), name), []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSlackRateLimitedAndRefused: a 429 with Retry-After is retried and posts the report once;
// a channel Slack does not know is refused for good: that report is dead-lettered, and the
// other incidents go on.
func TestSlackRateLimitedAndRefused(t *testing.T) {
	slk := slacktest.New(t, slackToken, slackChannels...)
	slk.FailNext("chat.postMessage", slacktest.Failure{Status: http.StatusTooManyRequests, RetryAfter: 1})
	cfg := slackConfig(t, slk, "50ms", `services:
  - name: checkout
    channel: "#gone"
`)
	r := start(t, app.Options{ConfigFile: cfg})
	r.postFile(t, "firing-3-alerts.json") // payments-api: the sink's channel
	r.post(t, webhook("CheckoutDown", "2026-11-26T15:08:31Z"))
	r.waitReports(t, 2)
	for result, want := range map[string]float64{"rate_limited": 1, "permanent": 1, "success": 1} {
		if got := metrictest.Value(t, r.app.Registry(), "triaged_notifications_total", "sink", "slack", "result", result); got != want {
			t.Errorf("slack sink: %v reports %s, want %v", got, result, want)
		}
	}
	if roots, replies, _ := slackPosts(slk); roots != 1 || replies != 1 {
		t.Errorf("Slack accepted %d roots and %d replies, want 1 and 1", roots, replies)
	}
	if got := metrictest.Value(t, r.app.Registry(), "triaged_dead_letters_total"); got != 1 {
		t.Errorf("%v dead letters, want 1", got)
	}
}
