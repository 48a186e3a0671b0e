package app_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/slacktest"
	"github.com/triaged/triaged/internal/testkit"
)

const slackToken = "xoxb-e2e-1234"

// slackChannels are the channels of the local Slack the tests use: the sink's default, a
// service's channel from the catalog, and a route's channel.
var slackChannels = []string{"incidents", "inc-checkout", "noc"}

// slackConfig writes a config with a stdout sink and a slack sink against slk, whose default
// channel is #incidents and whose token is in a file beside the config, as the README shows;
// extra is appended (services, rules, routes). The retry backoff is short.
func slackConfig(t *testing.T, slk *slacktest.Server, backoff, extra string) string {
	t.Helper()
	cfg := configFile(t, reportAtOnce+`triage:
  retry_backoff: [`+backoff+`]
sinks:
  - name: stdout
    type: stdout
  - name: slack
    type: slack
    url: `+slk.APIURL()+`
    token_file: secrets/slack-token
    channel: "#incidents"
`+extra)
	dir := filepath.Join(filepath.Dir(cfg), "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slack-token"), []byte(slackToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// slackPosts counts the accepted chat.postMessage calls: roots (no thread_ts) and replies.
func slackPosts(slk *slacktest.Server) (roots, replies, updates int) {
	for _, c := range slk.Accepted() {
		switch {
		case c.Method == "chat.update":
			updates++
		case c.Method == "chat.postMessage" && c.Message.ThreadTS == "":
			roots++
		case c.Method == "chat.postMessage":
			replies++
		}
	}
	return roots, replies, updates
}

// metaOf is a message's metadata value key ("report_id", "incident_id"), "" without metadata.
func metaOf(m slacktest.Message, key string) string {
	if m.Metadata == nil {
		return ""
	}
	s, _ := m.Metadata.EventPayload[key].(string)
	return s
}

// TestSlackEndToEnd: a firing webhook opens one root message in the sink's channel with the
// headline and severity, and the full report as the first reply in its thread; the group's
// resolution is a second reply and an edit of the root, marked resolved. The root is posted once.
func TestSlackEndToEnd(t *testing.T) {
	slk := slacktest.New(t, slackToken, slackChannels...)
	const external = "https://triaged.example.com"
	r := start(t, app.Options{ConfigFile: slackConfig(t, slk, "50ms", ""), ExternalURL: external})
	r.postFile(t, "firing-3-alerts.json")
	r.waitReports(t, 1)

	reps := fullReports(t, r)
	if len(reps) != 1 {
		t.Fatalf("%d reports on the stream, want 1", len(reps))
	}
	opened := reps[0]
	roots := slk.Roots("incidents")
	if len(roots) != 1 {
		t.Fatalf("%d root messages in #incidents, want 1: %+v", len(roots), roots)
	}
	root := roots[0]
	for _, want := range []string{triaged.Headline(opened), "*Severity*: " + opened.Severity.String(), "*Status*: INVESTIGATING"} {
		if !strings.Contains(slackText(root), want) {
			t.Errorf("the root message lacks %q:\n%s", want, slackText(root))
		}
	}
	if got := metaOf(root, "incident_id"); got != opened.IncidentID {
		t.Errorf("root's incident_id %q, want %q", got, opened.IncidentID)
	}
	// The root's link to the full report is one the daemon serves.
	link := "/api/v1/incidents/" + opened.IncidentID + "/report.md"
	if !strings.Contains(slackText(root), "<"+external+link+"|full report>") {
		t.Errorf("the root message lacks the link to %s:\n%s", external+link, slackText(root))
	}
	if code, body := r.get(t, link); code != 200 || !strings.Contains(body, "**Status**: INVESTIGATING") {
		t.Errorf("GET %s: %d %.200s", link, code, body)
	}
	replies := slk.Replies("incidents", root.TS)
	if len(replies) != 1 || replies[0].ThreadTS != root.TS || metaOf(replies[0], "report_id") != opened.ID ||
		!strings.Contains(slackText(replies[0]), "127.0.0.1:19993") {
		t.Fatalf("thread of %s: want the full report %s as its first reply, got %+v", root.TS, opened.ID, replies)
	}

	r.postFile(t, "resolved-3-alerts.json")
	r.waitReports(t, 2)
	reps = fullReports(t, r)
	if len(reps) != 2 || reps[1].Event != triaged.EventResolved {
		t.Fatalf("reports on the stream: %d, want the opening and the resolution", len(reps))
	}
	roots = slk.Roots("incidents")
	if len(roots) != 1 || roots[0].TS != root.TS || !strings.Contains(slackText(roots[0]), "RESOLVED") {
		t.Fatalf("after the resolution, want the one root edited to RESOLVED, got %+v", roots)
	}
	replies = slk.Replies("incidents", root.TS)
	if len(replies) != 2 || metaOf(replies[1], "report_id") != reps[1].ID || !strings.Contains(slackText(replies[1]), "RESOLVED") {
		t.Fatalf("want the resolution as the second reply in the thread, got %+v", replies)
	}
	rootPosts, replyPosts, updates := slackPosts(slk)
	if rootPosts != 1 || replyPosts != 2 || updates != 1 {
		t.Errorf("Slack accepted %d root posts, %d replies and %d updates; want 1, 2 and 1", rootPosts, replyPosts, updates)
	}
	for _, c := range slk.Accepted() {
		if c.Method == "chat.update" && (c.TS != root.TS || c.Channel != slk.ChannelID("incidents")) {
			t.Errorf("chat.update of %s in %s, want the root %s", c.TS, c.Channel, root.TS)
		}
	}
}

// slackText is everything a message shows: its text and its blocks'.
func slackText(m slacktest.Message) string {
	var b strings.Builder
	b.WriteString(m.Text)
	for _, bl := range m.Blocks {
		if bl.Text != nil {
			b.WriteString("\n" + bl.Text.Text)
		}
		for _, e := range bl.Elements {
			b.WriteString("\n" + e.Text)
		}
	}
	return b.String()
}

// TestSlackChannelRouting: a service's channel in the catalog takes its incidents; a route's
// channel overrides it for P1; a report no route sends to the slack sink never reaches Slack.
func TestSlackChannelRouting(t *testing.T) {
	slk := slacktest.New(t, slackToken, slackChannels...)
	cfg := slackConfig(t, slk, "50ms", `rules:
  files: [sev.rules.yml]
services:
  - name: checkout
    team: shop
    channel: "#inc-checkout"
routes:
  - name: pages
    matchers: ['severity="P1"']
    sinks: [slack, stdout]
    channel: "#noc"
  - name: quiet
    matchers: ['alertname="Quiet"']
    sinks: [stdout]
  - name: everything
    sinks: [slack, stdout]
`)
	rules := "default: P3\nrules:\n  - name: down\n    when: alertname == \"CheckoutDown\"\n    severity: P1\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "sev.rules.yml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, app.Options{ConfigFile: cfg})
	r.post(t, webhook("CheckoutDown", "2026-11-26T15:08:31Z"))
	r.post(t, webhook("DiskFilling", "2026-11-26T15:09:31Z"))
	r.post(t, webhook("Quiet", "2026-11-26T15:10:31Z"))
	r.waitReports(t, 3)

	for channel, want := range map[string][]string{
		"noc":          {"CheckoutDown"}, // the route's channel over the catalog's
		"inc-checkout": {"DiskFilling"},  // the catalog's channel over the sink's
		"incidents":    nil,
	} {
		var got []string
		for _, m := range slk.Roots(channel) {
			name := "?"
			for _, a := range []string{"CheckoutDown", "DiskFilling", "Quiet"} {
				if strings.Contains(slackText(m), a) {
					name = a
				}
			}
			got = append(got, name)
			if n := len(slk.Replies(channel, m.TS)); n != 1 {
				t.Errorf("#%s: the root of %s has %d replies, want 1", channel, name, n)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("#%s holds the incidents %q, want %q", channel, got, want)
		}
	}
	for _, c := range slk.Accepted() {
		if strings.Contains(slackText(c.Message), "Quiet") {
			t.Errorf("the report routed away from the slack sink reached Slack: %s in %s", c.Method, c.Channel)
		}
	}
	if got := metrictest.Value(t, r.app.Registry(), "triaged_notifications_total", "sink", "slack", "result", "unrouted"); got != 1 {
		t.Errorf("slack sink: %v reports unrouted, want 1", got)
	}
}

// TestSlackCrashAfterRoot: the root is posted and the full report's reply fails; the daemon
// stops before the retry. The next daemon on the same storage replies in the same thread,
// without posting the root again, and each report reaches Slack once.
func TestSlackCrashAfterRoot(t *testing.T) {
	slk := slacktest.New(t, slackToken, slackChannels...)
	slk.FailNext("chat.postMessage", slacktest.Failure{Status: 500, OnlyReplies: true})
	storage := t.TempDir()
	cfg := slackConfig(t, slk, "2s", "") // the retry is due after the daemon stopped
	r := start(t, app.Options{StoragePath: storage, ConfigFile: cfg})
	r.postFile(t, "firing-1-alert.json")
	testkit.Eventually(t, testTimeout, "the reply failed once", func() bool {
		return metrictest.Value(t, r.app.Registry(), "triaged_notifications_total", "sink", "slack", "result", "failure") == 1
	})
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if roots, replies, _ := slackPosts(slk); roots != 1 || replies != 0 {
		t.Fatalf("before the restart: %d roots, %d replies; want the root alone", roots, replies)
	}
	if got := metrictest.Value(t, r.app.Registry(), "triaged_notifications_total", "sink", "slack", "result", "success"); got != 0 {
		t.Fatalf("the first daemon delivered %v reports before it stopped; the test needs the retry in the second", got)
	}

	r = start(t, app.Options{StoragePath: storage, ConfigFile: cfg})
	r.waitReports(t, 0) // the stdout sink printed the report before the restart
	testkit.Eventually(t, testTimeout, "the reply in the thread", func() bool {
		_, replies, _ := slackPosts(slk)
		return replies == 1
	})
	firing, err := os.ReadFile(filepath.Join("../testdata/alertmanager", "firing-1-alert.json"))
	if err != nil {
		t.Fatal(err)
	}
	r.post(t, []byte(strings.ReplaceAll(string(firing), `"status":"firing"`, `"status":"resolved"`)))
	r.waitReports(t, 1)

	reps := fullReports(t, r)
	if len(reps) != 2 {
		t.Fatalf("%d reports on the stream, want 2", len(reps))
	}
	roots := slk.Roots("incidents")
	if len(roots) != 1 {
		t.Fatalf("%d roots, want 1: %+v", len(roots), roots)
	}
	var got []string
	for _, m := range slk.Replies("incidents", roots[0].TS) {
		got = append(got, metaOf(m, "report_id"))
	}
	if want := []string{reps[0].ID, reps[1].ID}; !slices.Equal(got, want) {
		t.Errorf("thread holds the reports %q, want %q, each once and in order", got, want)
	}
	if rootPosts, replyPosts, _ := slackPosts(slk); rootPosts != 1 || replyPosts != 2 {
		t.Errorf("Slack accepted %d root posts and %d replies, want 1 and 2", rootPosts, replyPosts)
	}
	if !strings.Contains(slackText(roots[0]), "RESOLVED") {
		t.Errorf("the root was not edited to show the resolution:\n%s", slackText(roots[0]))
	}
}

// TestSlackTwoReplicas: two daemons on one NATS share the slack sink's consumer: each report
// reaches Slack once, each incident in one thread, its reports in order.
func TestSlackTwoReplicas(t *testing.T) {
	slk := slacktest.New(t, slackToken, slackChannels...)
	ns := natstest.Server(t)
	cfg := slackConfig(t, slk, "50ms", "")
	replicas := []*running{start(t, app.Options{NATSURL: ns.ClientURL(), ConfigFile: cfg}), start(t, app.Options{NATSURL: ns.ClientURL(), ConfigFile: cfg})}
	const groups = 10
	now := time.Now().UTC().Truncate(time.Millisecond)
	sendToBoth(t, replicas, groups, now, nil)
	testkit.Eventually(t, testTimeout, "every incident opened", func() bool {
		return reportsOnStream(t, replicas[0])[triaged.EventOpened] >= groups
	})
	replicas[0].settled(t)
	end := now.Add(time.Minute)
	sendToBoth(t, replicas, groups, now, &end)
	testkit.Eventually(t, testTimeout, "every incident resolved in Slack", func() bool {
		_, replies, _ := slackPosts(slk)
		return replies >= 2*groups
	})
	replicas[0].settled(t)

	reps := fullReports(t, replicas[0])
	want := map[string][]string{} // incident → its report ids, in stream order
	for _, rep := range reps {
		want[rep.IncidentID] = append(want[rep.IncidentID], rep.ID)
	}
	if len(want) != groups || len(reps) != 2*groups {
		t.Fatalf("%d reports of %d incidents on the stream, want %d of %d", len(reps), len(want), 2*groups, groups)
	}
	got := map[string][]string{}
	for _, root := range slk.Roots("incidents") {
		id := metaOf(root, "incident_id")
		if _, dup := got[id]; dup {
			t.Errorf("incident %s has two root messages", id)
		}
		got[id] = []string{}
		for _, m := range slk.Replies("incidents", root.TS) {
			got[id] = append(got[id], metaOf(m, "report_id"))
		}
	}
	for id, ids := range want {
		if !slices.Equal(got[id], ids) {
			t.Errorf("incident %s: thread holds %q, want %q", id, got[id], ids)
		}
	}
	if rootPosts, replyPosts, _ := slackPosts(slk); rootPosts != groups || replyPosts != 2*groups {
		t.Errorf("Slack accepted %d root posts and %d replies, want %d and %d", rootPosts, replyPosts, groups, 2*groups)
	}
}

// fullReports reads every report on the reports stream, in stream order.
func fullReports(t *testing.T, r *running) []*triaged.Report {
	t.Helper()
	ctx := context.Background()
	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, broker.MustNames(r.app.Config().NATS.Prefix).ReportsStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*triaged.Report
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("report %d: %v", seq, err)
		}
		rep, err := triaged.DecodeReport(m.Data)
		if err != nil {
			t.Fatalf("report %d: %v", seq, err)
		}
		out = append(out, rep)
	}
	return out
}
