package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/slacktest"
)

// TestSlackREADMERoutes runs the README's routing example against one Slack workspace: a P1
// opening pages #noc through a second slack sink and continues to the service's channel; its
// resolution goes to the service's thread only; a P4 reaches no Slack sink. Each sink keeps its
// own thread of the incident.
func TestSlackREADMERoutes(t *testing.T) {
	slk := slacktest.New(t, slackToken, slackChannels...)
	cfg := slackConfig(t, slk, "50ms", `  - name: slack-noc
    type: slack
    url: `+slk.APIURL()+`
    token_file: secrets/slack-token
rules:
  files: [sev.rules.yml]
services:
  - name: checkout
    environment: production
    team: shop
    channel: "#inc-checkout"
routes:
  - name: pages
    matchers: ['severity="P1"', 'event=~"opened|reopened"']
    sinks: [slack-noc]
    channel: "#noc"
    continue: true
  - name: shop
    matchers: ['{team="shop", environment="production", severity!="P4"}']
    sinks: [slack, stdout]
  - name: quiet
    expr: 'severity == "P4"'
    sinks: [stdout]
  - name: everything
    sinks: [slack, stdout]
`)
	rules := "default: P3\nrules:\n  - name: down\n    when: alertname == \"CheckoutDown\"\n    severity: P1\n" +
		"  - name: quiet\n    when: alertname == \"Quiet\"\n    severity: P4\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "sev.rules.yml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, app.Options{ConfigFile: cfg})
	down := webhook("CheckoutDown", "2026-11-26T15:08:31Z")
	r.post(t, down)
	r.post(t, webhook("Quiet", "2026-11-26T15:09:31Z"))
	r.waitReports(t, 2)
	r.post(t, []byte(strings.ReplaceAll(string(down), `"status":"firing"`, `"status":"resolved"`)))
	r.waitReports(t, 3)

	type thread struct {
		root    string
		replies []string
	}
	show := func(channel string) []thread {
		var out []thread
		for _, root := range slk.Roots(channel) {
			th := thread{root: slackText(root)}
			for _, m := range slk.Replies(channel, root.TS) {
				th.replies = append(th.replies, metaOf(m, "report_id"))
			}
			out = append(out, th)
		}
		return out
	}
	reps := fullReports(t, r)
	var opened, resolved string
	for _, rep := range reps {
		if rep.AlertName == "CheckoutDown" {
			if rep.Event == "resolved" {
				resolved = rep.ID
			} else {
				opened = rep.ID
			}
		}
	}
	noc, shop := show("noc"), show("inc-checkout")
	if len(noc) != 1 || len(noc[0].replies) != 1 || noc[0].replies[0] != opened || !strings.Contains(noc[0].root, "CheckoutDown") {
		t.Errorf("#noc: want the P1 opening alone, got %+v", noc)
	}
	if len(shop) != 1 || len(shop[0].replies) != 2 || shop[0].replies[0] != opened || shop[0].replies[1] != resolved || !strings.Contains(shop[0].root, "RESOLVED") {
		t.Errorf("#inc-checkout: want the opening and the resolution under a root marked resolved, got %+v", shop)
	}
	if got := show("incidents"); len(got) != 0 {
		t.Errorf("#incidents: want nothing, got %+v", got)
	}
	for sink, want := range map[string]float64{"slack": 2, "slack-noc": 1} {
		if got := metrictest.Value(t, r.app.Registry(), "triaged_notifications_total", "sink", sink, "result", "success"); got != want {
			t.Errorf("sink %s delivered %v reports, want %v", sink, got, want)
		}
	}
}
