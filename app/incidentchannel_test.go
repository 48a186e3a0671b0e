package app_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/chattest"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/slacktest"
	"github.com/triaged/triaged/internal/testkit"
)

// channelRules make an alert P2 when its tier label is 1, P3 otherwise.
const channelRules = "default: P3\nrules:\n  - name: tier1\n    when: labels[\"tier\"] == \"1\"\n    severity: P2\n"

// channelConfig is a slack sink with an incident channel for P2 and above, and a catalog entry
// naming the people to invite; extra goes into the incident_channel block.
func channelConfig(t *testing.T, slk *slacktest.Server, extra string) string {
	t.Helper()
	cfg := slackConfig(t, slk, "50ms", `    incident_channel:
      min_severity: P2
`+extra+`rules:
  files: [sev.rules.yml]
services:
  - name: checkout
    oncall: carol
    owners: [alice, bob@example.com]
    team: shop
`)
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "sev.rules.yml"), []byte(channelRules), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func channelSlack(t *testing.T) *slacktest.Server {
	slk := slacktest.New(t, slackToken, slackChannels...)
	slk.AddUser(slacktest.User{ID: "UCAROL", Name: "carol"})
	slk.AddUser(slacktest.User{ID: "UALICE", Name: "alice"})
	slk.AddUser(slacktest.User{ID: "UBOB", Name: "bob", Email: "bob@example.com"})
	slk.AddUser(slacktest.User{ID: "UERIN", Name: "erin"})
	slk.AddGroup("shop", "UERIN")
	return slk
}

// tieredWebhook is a firing (or, with end, resolved) group of checkout alerts, one per tier.
func tieredWebhook(alertname, startsAt string, end string, tiers ...string) []byte {
	status := "firing"
	if end != "" {
		status = "resolved"
	}
	var alerts []map[string]any
	for i, tier := range tiers {
		alerts = append(alerts, map[string]any{
			"status": status, "startsAt": startsAt, "endsAt": cmpOr(end, time.Time{}.Format(time.RFC3339)),
			"labels":      map[string]string{"alertname": alertname, "service": "checkout", "instance": fmt.Sprintf("c-%d:8080", i), "tier": tier},
			"annotations": map[string]string{"summary": alertname + " on checkout"},
		})
	}
	body, _ := json.Marshal(map[string]any{
		"version": "4", "status": status, "receiver": "webhook", "externalURL": "http://am.example:9093",
		"groupKey": fmt.Sprintf(`{}:{alertname=%q}`, alertname), "groupLabels": map[string]string{"alertname": alertname},
		"alerts": alerts,
	})
	return body
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// TestIncidentChannelEndToEnd: through the whole daemon, a P2 opening creates exactly one
// channel with the seed's name, the headline as its topic, the catalog's people as members and
// the full report pinned, linked from the team channel; a P3 gets none until it escalates to P2.
func TestIncidentChannelEndToEnd(t *testing.T) {
	slk := channelSlack(t)
	r := start(t, app.Options{ConfigFile: channelConfig(t, slk, ""), ExternalURL: "https://triaged.example.com"})
	r.post(t, tieredWebhook("CheckoutDown", "2026-11-26T15:08:31Z", "", "1"))
	r.post(t, tieredWebhook("CheckoutSlow", "2026-11-26T15:09:31Z", "", "2"))
	r.waitReports(t, 2)

	const name = "incident-20261126-checkout-checkoutdown"
	if got := slk.Created(); !slices.Equal(got, []string{name}) {
		t.Fatalf("channels created %q, want only %s (the P3 gets none)", got, name)
	}
	reps := fullReports(t, r)
	var down *triaged.Report
	for _, rep := range reps {
		if rep.AlertName == "CheckoutDown" {
			down = rep
		}
	}
	ch, _ := slk.Channel(name)
	if down == nil || ch.Topic != triaged.Headline(down) {
		t.Errorf("topic %q, want the headline of %+v", ch.Topic, down)
	}
	if want := []string{"UALICE", "UBOB", slacktest.BotUserID, "UCAROL", "UERIN"}; !slices.Equal(ch.Members, want) {
		t.Errorf("members %q, want the on-call, the owners and the team %q", ch.Members, want)
	}
	msgs := slk.Roots(name)
	if len(msgs) != 1 || metaOf(msgs[0], "report_id") != down.ID || !slices.Equal(ch.Pins, []string{msgs[0].TS}) {
		t.Fatalf("the incident channel holds %+v, pins %q; want the full report, pinned", msgs, ch.Pins)
	}
	link := "<" + slk.URL + "/archives/" + ch.ID + "|#" + name + ">"
	if !strings.Contains(slackText(msgs[0]), "Incident Channel: "+link) || !strings.Contains(slackText(msgs[0]), "Status Page Updated: N") {
		t.Errorf("the report's Communication section lacks %s:\n%s", link, slackText(msgs[0]))
	}
	linked := 0
	for _, root := range slk.Roots("incidents") {
		if strings.Contains(slackText(root), "*Incident channel*: "+link) {
			linked++
		}
	}
	if linked != 1 {
		t.Errorf("%d team-channel roots link the incident channel, want 1", linked)
	}

	// CheckoutSlow escalates to P2 when a tier-1 alert joins: its channel is created then.
	r.post(t, tieredWebhook("CheckoutSlow", "2026-11-26T15:09:31Z", "", "2", "1"))
	r.waitReports(t, 3)
	const slow = "incident-20261126-checkout-checkoutslow"
	if got := slk.Created(); !slices.Equal(got, []string{name, slow}) {
		t.Fatalf("after the escalation, channels created %q, want %s too", got, slow)
	}
	if msgs := slk.Roots(slow); len(msgs) != 1 || !strings.Contains(slackText(msgs[0]), "P2") {
		t.Errorf("the escalated incident's channel holds %+v, want the P2 update", msgs)
	}
	if got := metrictest.Value(t, r.app.Registry(), "triaged_incident_channels_total", "sink", "slack", "result", "created"); got != 2 {
		t.Errorf("triaged_incident_channels_total{result=created} = %v, want 2", got)
	}
}

// TestIncidentChannelArchiveAfterRestart: the resolution schedules the archive in NATS; the
// triaged that resolved it stops, another starts and archives the channel when it falls due,
// with the closing message linking the postmortem skeleton.
func TestIncidentChannelArchiveAfterRestart(t *testing.T) {
	slk := channelSlack(t)
	ns := natstest.Server(t)
	cfg := channelConfig(t, slk, "      archive_after: 1s\n")
	r := start(t, app.Options{NATSURL: ns.ClientURL(), ConfigFile: cfg, ExternalURL: "https://triaged.example.com"})
	r.post(t, tieredWebhook("CheckoutDown", "2026-11-26T15:08:31Z", "", "1"))
	r.waitReports(t, 1)
	r.post(t, tieredWebhook("CheckoutDown", "2026-11-26T15:08:31Z", "2026-11-26T15:18:31Z", "1"))
	r.waitReports(t, 2)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	const name = "incident-20261126-checkout-checkoutdown"
	if ch, _ := slk.Channel(name); ch.Archived {
		t.Fatal("archived at once, want after archive_after")
	}

	start(t, app.Options{NATSURL: ns.ClientURL(), ConfigFile: cfg, ExternalURL: "https://triaged.example.com"})
	testkit.Eventually(t, testTimeout, "the incident channel archived", func() bool {
		ch, _ := slk.Channel(name)
		return ch.Archived
	})
	msgs := slk.Roots(name)
	last := msgs[len(msgs)-1]
	if !strings.Contains(last.Text, "/postmortem.md|postmortem.md>") || len(slk.Created()) != 1 {
		t.Errorf("closing message %q, channels %q; want one channel closed with the postmortem's link", last.Text, slk.Created())
	}
}

// TestIncidentChannelTwoReplicas: two triaged on one NATS, every webhook sent to both as an
// Alertmanager HA pair does: each P2 incident gets exactly one channel.
func TestIncidentChannelTwoReplicas(t *testing.T) {
	slk := channelSlack(t)
	ns := natstest.Server(t)
	cfg := channelConfig(t, slk, "")
	replicas := []*running{start(t, app.Options{NATSURL: ns.ClientURL(), ConfigFile: cfg}), start(t, app.Options{NATSURL: ns.ClientURL(), ConfigFile: cfg})}
	const incidents = 6
	var wg sync.WaitGroup
	for i := range incidents {
		for _, r := range replicas {
			wg.Go(func() { r.post(t, tieredWebhook(fmt.Sprintf("Down%d", i), "2026-11-26T15:08:31Z", "", "1")) })
		}
	}
	wg.Wait()
	testkit.Eventually(t, testTimeout, "every incident's channel", func() bool { return len(slk.Created()) >= incidents })
	for _, r := range replicas {
		r.settled(t)
	}
	got := slk.Created()
	slices.Sort(got)
	var want []string
	for i := range incidents {
		want = append(want, fmt.Sprintf("incident-20261126-checkout-down%d", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("channels created %q, want one per incident %q", got, want)
	}
	for _, name := range want {
		if n := len(slk.Roots(name)); n != 1 {
			t.Errorf("#%s holds %d messages, want the opening report once", name, n)
		}
	}
}

// TestIncidentChannelMissingScope: an app without channels:manage still posts every report in
// the team channel; the report, the log and the metric say what is missing.
func TestIncidentChannelMissingScope(t *testing.T) {
	slk := channelSlack(t)
	slk.RevokeScope("channels:manage")
	logs := &testkit.SyncBuffer{}
	r := start(t, app.Options{ConfigFile: channelConfig(t, slk, ""), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	r.post(t, tieredWebhook("CheckoutDown", "2026-11-26T15:08:31Z", "", "1"))
	r.waitReports(t, 1)
	r.post(t, tieredWebhook("CheckoutDown", "2026-11-26T15:08:31Z", "2026-11-26T15:18:31Z", "1"))
	r.waitReports(t, 2)
	roots := slk.Roots("incidents")
	if len(roots) != 1 || len(slk.Created()) != 0 {
		t.Fatalf("roots %+v, channels %q; want the one root in the team channel and no channel", roots, slk.Created())
	}
	replies := slk.Replies("incidents", roots[0].TS)
	if len(replies) != 2 {
		t.Fatalf("the team thread holds %d reports, want the opening and the resolution", len(replies))
	}
	if !strings.Contains(slackText(replies[0]), "no dedicated channel: the Slack app lacks the channels:manage scope") ||
		!strings.Contains(slackText(roots[0]), "*Incident channel*: not opened: the Slack app lacks the channels:manage scope") {
		t.Errorf("the opening report or the root does not say the scope is missing:\n%s\n%s", slackText(roots[0]), slackText(replies[0]))
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR msg=\"slack: incident channel not created: a scope or permission is missing") ||
		!strings.Contains(l, "missing_scope=channels:manage") {
		t.Errorf("no clear log line naming the missing scope:\n%s", l)
	}
	if got := metrictest.Value(t, r.app.Registry(), "triaged_incident_channels_total", "sink", "slack", "result", "missing_scope"); got < 1 {
		t.Errorf("triaged_incident_channels_total{result=missing_scope} = %v, want at least 1", got)
	}
}

// TestMattermostIncidentChannelEndToEnd: a mattermost bot sink with incident_channel creates the
// P2 incident's channel in the team of its channel, adds the on-call and pins the report.
func TestMattermostIncidentChannelEndToEnd(t *testing.T) {
	mm := chattest.NewMattermost(t)
	team := mm.AddChannel("ops", "incidents")
	mm.AddUser(chattest.MMUser{ID: "ucarol", Username: "carol"})
	cfg := configFile(t, reportAtOnce+`triage:
  retry_backoff: [50ms]
rules:
  files: [sev.rules.yml]
services:
  - name: checkout
    oncall: carol
sinks:
  - name: stdout
    type: stdout
  - name: mattermost
    type: mattermost
    url: `+mm.URL+`
    token_file: mm-token
    channel: ops/incidents
    incident_channel:
      min_severity: P2
`)
	dir := filepath.Dir(cfg)
	for name, text := range map[string]string{"mm-token": mm.Token + "\n", "sev.rules.yml": channelRules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, app.Options{ConfigFile: cfg})
	r.post(t, tieredWebhook("CheckoutDown", "2026-11-26T15:08:31Z", "", "1"))
	r.waitReports(t, 1)
	const name = "incident-20261126-checkout-checkoutdown"
	ch, ok := mm.Channel("ops", name)
	if !ok || !slices.Equal(mm.CreatedChannels(), []string{name}) {
		t.Fatalf("channels created %q, want %s", mm.CreatedChannels(), name)
	}
	if !slices.Contains(ch.Members, "ucarol") || len(ch.Pinned) != 1 {
		t.Errorf("members %q, pinned %q; want carol in, the report pinned", ch.Members, ch.Pinned)
	}
	for _, p := range mm.Posts() {
		if p.ChannelID == team && p.RootID == "" && !strings.Contains(p.Message, "/ops/channels/"+name) {
			t.Errorf("the team channel's root does not link the incident channel:\n%s", p.Message)
		}
	}
}
