package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/deploy"
)

type recentFunc func(ctx context.Context, limit int) ([]RecentAlert, error)

func (f recentFunc) RecentAlerts(ctx context.Context, limit int) ([]RecentAlert, error) {
	return f(ctx, limit)
}

// TestPlaygroundPage: recent alerts are offered (their JSON escaped into an attribute), the rule
// files' text prefilled, the token asked for only with bearer tokens, and a history that does
// not answer leaves the page working with the reason shown.
func TestPlaygroundPage(t *testing.T) {
	hostile := `{"labels":{"alertname":"X\"><script>alert(1)</script>"}}`
	at := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	texts := func() []RuleText {
		return []RuleText{{Name: "a.rules.yml", Text: "rules:\n  - {name: a, when: 'x < 1', severity: P1}\n"}, {Name: "b.rules.yml", Err: "permission denied"}}
	}
	for _, tc := range []struct {
		name   string
		o      Options
		want   []string
		absent []string
	}{
		{"recent alerts and two rule files, bearer tokens", Options{
			WriteAuth: WriteAuthBearer,
			RuleTexts: texts,
			RecentAlerts: recentFunc(func(_ context.Context, limit int) ([]RecentAlert, error) {
				if limit != recentShown {
					t.Errorf("limit %d", limit)
				}
				return []RecentAlert{{At: at, AlertName: "X\"><script>alert(1)</script>", Status: "firing", Service: "checkout", Severity: "P2", JSON: hostile}}, nil
			}),
		}, []string{
			`data-write-auth="bearer"`,
			`<option data-alert="{&#34;labels&#34;:{&#34;alertname&#34;:&#34;X\&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#34;}}">2026-11-26 15:00:00 UTC · X&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt; · checkout · P2 (firing)</option>`,
			// the latest alert starts the page
			`<textarea id="pg-alert" rows="18" spellcheck="false" autocomplete="off">{&#34;labels&#34;`,
			`<select id="pg-file">`, `b.rules.yml (unreadable: permission denied)`,
			"rules:\n  - {name: a, when: &#39;x &lt; 1&#39;, severity: P1}\n</textarea>",
			`<script src="/static/playground.js" defer></script>`,
		}, []string{"<script>alert"}},
		{"basic auth, no history", Options{
			RecentAlerts: recentFunc(func(context.Context, int) ([]RecentAlert, error) { return nil, nil }),
		}, []string{"No recent alerts in the history", `&#34;alertname&#34;: &#34;HighErrorRate&#34;`},
			[]string{`data-write-auth`, `<select id="pg-file">`}},
		{"history hangs", Options{
			ReadTimeout: 20 * time.Millisecond,
			RecentAlerts: recentFunc(func(ctx context.Context, _ int) ([]RecentAlert, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}),
		}, []string{"Recent alerts unknown: no answer within 20ms: context deadline exceeded", `id="pg-rules"`}, nil},
		{"history fails", Options{
			RecentAlerts: recentFunc(func(context.Context, int) ([]RecentAlert, error) {
				return nil, errors.New("stream TRIAGED_HISTORY not found")
			}),
		}, []string{"Recent alerts unknown: stream TRIAGED_HISTORY not found"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, newUI(t, tc.o), "/playground")
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q in\n%s", w, mainOf(t, body))
				}
			}
			for _, w := range tc.absent {
				if strings.Contains(body, w) {
					t.Errorf("%q in\n%s", w, mainOf(t, body))
				}
			}
			if m := inline.FindString(body); m != "" {
				t.Errorf("%q, which the CSP blocks", m)
			}
		})
	}
}

type fakeDeploys []deploy.Series

func (f fakeDeploys) Recent(maxSeries, perSeries int) []deploy.Series { return f }
func (f fakeDeploys) Ready() bool                                     { return false }

// TestDeploysPage: links only for http(s) URLs; the text of the others shown.
func TestDeploysPage(t *testing.T) {
	at := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	u := newUI(t, Options{Deploys: fakeDeploys{{Service: "checkout", Environment: "prod", Held: 12, Dropped: 3, Events: []deploy.Event{
		{Service: "checkout", Version: "v2", Commit: "abc123", Author: "<b>eve</b>", URL: "https://ci.example.com/run/7", Time: at, Status: "succeeded"},
		{Service: "checkout", Version: "v1", URL: "javascript:alert(1)", Time: at.Add(-time.Hour), Status: "failed"},
	}}}})
	code, body := get(t, u, "/deploys")
	for _, w := range []string{
		`<a href="https://ci.example.com/run/7" rel="noopener noreferrer">https://ci.example.com/run/7</a>`,
		`<td>javascript:alert(1)</td>`, `&lt;b&gt;eve&lt;/b&gt;`, `12 held`, `3 older dropped`,
		`<span class="deploy-failed">failed</span>`, `still loading the deploys stream`,
		`<time datetime="2026-11-26T15:00:00Z">2026-11-26 15:00:00 UTC</time>`,
	} {
		if code != 200 || !strings.Contains(body, w) {
			t.Errorf("%d: no %q in\n%s", code, w, mainOf(t, body))
		}
	}
	if m := inline.FindString(body); m != "" {
		t.Errorf("%q, which the CSP blocks", m)
	}
}

type fakeDeadLetters func(ctx context.Context, limit int) (broker.DeadLetterList, error)

func (f fakeDeadLetters) List(ctx context.Context, limit int) (broker.DeadLetterList, error) {
	return f(ctx, limit)
}

func TestDeadLettersPage(t *testing.T) {
	at := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		o    Options
		want []string
	}{
		{"listed", Options{WriteAuth: WriteAuthBearer, DeadLetters: fakeDeadLetters(func(_ context.Context, limit int) (broker.DeadLetterList, error) {
			return broker.DeadLetterList{Total: 250, Letters: []broker.DeadLetter{{Seq: 9, Time: at, Origin: "triaged.alerts.firing", Consumer: "triage", Deliveries: 10, Reason: "retries_exhausted", Error: "<img src=x onerror=alert(1)>", Size: 120}}}, nil
		})}, []string{
			`data-write-auth="bearer"`, `the latest 1 of 250`, `<tr id="dl-9">`, `<button type="button" class="replay" data-id="9">Replay 9</button>`,
			`&lt;img src=x onerror=alert(1)&gt;`, `<strong>retries_exhausted</strong>`, `<script src="/static/deadletters.js" defer></script>`,
		}},
		{"empty", Options{DeadLetters: fakeDeadLetters(func(context.Context, int) (broker.DeadLetterList, error) {
			return broker.DeadLetterList{}, nil
		})}, []string{"No dead letters."}},
		{"NATS slow", Options{ReadTimeout: 20 * time.Millisecond, DeadLetters: fakeDeadLetters(func(ctx context.Context, _ int) (broker.DeadLetterList, error) {
			<-ctx.Done()
			return broker.DeadLetterList{}, ctx.Err()
		})}, []string{"Dead letters unknown: no answer within 20ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, newUI(t, tc.o), "/dead-letters")
			for _, w := range tc.want {
				if code != 200 || !strings.Contains(body, w) {
					t.Errorf("%d: no %q in\n%s", code, w, mainOf(t, body))
				}
			}
			if m := inline.FindString(body); m != "" {
				t.Errorf("%q, which the CSP blocks", m)
			}
		})
	}
}
