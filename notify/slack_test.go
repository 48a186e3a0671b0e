package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/slacktest"
)

const testToken = "xoxb-1234-5678-abcdef"

// openSlackSink opens a slack sink from its config as the daemon does, against srv.
func openSlackSink(t *testing.T, srv *slacktest.Server, c SinkConfig, external string) Sink {
	t.Helper()
	dir := t.TempDir()
	if c.TokenFile == "" {
		c.TokenFile = filepath.Join(dir, "token")
		if err := os.WriteFile(c.TokenFile, []byte(testToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.Name, c.Type = "team-chat", "slack"
	if c.URL == "" {
		c.URL = srv.APIURL()
	}
	plan, err := PlanSink(c)
	if err != nil {
		t.Fatal(err)
	}
	sink, _, err := plan.Open(SinkEnv{ExternalURL: external})
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

// blocksText is every text a message shows, joined.
func blocksText(m slacktest.Message) string {
	parts := []string{m.Text}
	for _, b := range m.Blocks {
		if b.Text != nil {
			parts = append(parts, b.Text.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func methods(calls []slacktest.Call) []string {
	var out []string
	for _, c := range calls {
		s := c.Method
		if c.Message.ThreadTS != "" {
			s += " in thread"
		}
		out = append(out, s)
	}
	return out
}

// TestSlackIncidentThread: the opening posts a root message, then the full report in its
// thread; an update is a reply plus an edit of the root; the resolution marks the root resolved
// with the duration.
func TestSlackIncidentThread(t *testing.T) {
	srv := slacktest.New(t, testToken, "incidents")
	sink := openSlackSink(t, srv, SinkConfig{Channel: "#incidents"}, "https://triaged.example")
	ctx := context.Background()

	th, err := sink.Deliver(ctx, Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	ch := srv.ChannelID("incidents")
	if th == nil || th.Channel != ch || th.RootID == "" || th.RootURL != srv.Permalink(ch, th.RootID) {
		t.Fatalf("thread = %+v, want the root in channel %s with its permalink", th, ch)
	}
	for _, rep := range []*triaged.Report{updatedP1(), resolvedP1()} {
		got, err := sink.Deliver(ctx, Delivery{Report: rep, Thread: th, Channel: "#elsewhere"})
		if err != nil {
			t.Fatal(err)
		}
		if *got != *th {
			t.Errorf("thread of a later report = %+v, want %+v", got, th)
		}
	}

	want := []string{"chat.postMessage", "chat.postMessage in thread", "chat.postMessage in thread", "chat.update", "chat.postMessage in thread", "chat.update"}
	if got := methods(srv.Accepted()); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("calls = %q, want %q", got, want)
	}
	for _, c := range srv.Accepted() {
		m := c.Message
		if m.LinkNames == nil || *m.LinkNames || m.Parse != "none" || m.UnfurlLinks == nil || *m.UnfurlLinks {
			t.Errorf("%s: link_names %v, parse %q, unfurl_links %v; want false, none, false", c.Method, m.LinkNames, m.Parse, m.UnfurlLinks)
		}
	}
	roots := srv.Roots("incidents")
	if len(roots) != 1 {
		t.Fatalf("%d root messages, want 1", len(roots))
	}
	root := blocksText(roots[0])
	for _, want := range []string{"✅ *RESOLVED*", "after 42m", "P1 CRITICAL · CheckoutDown · checkout (production) · resolved after 42m",
		"<https://triaged.example/api/v1/incidents/3f9a1c2b7d4e5f60-20260314T092653Z/report.md|full report>"} {
		if !strings.Contains(root, want) {
			t.Errorf("root message lacks %q:\n%s", want, root)
		}
	}
	if md := roots[0].Metadata; md == nil || md.EventType != slackRootEvent || md.EventPayload["report_id"] != resolvedP1().ID {
		t.Errorf("root metadata = %+v, want the resolution's report id", md)
	}
	replies := srv.Replies("incidents", th.RootID)
	if len(replies) != 3 {
		t.Fatalf("%d replies, want 3", len(replies))
	}
	for i, want := range []string{"*INCIDENT REPORT*", "*INCIDENT UPDATE - P1*", "*INCIDENT RESOLVED - P1*"} {
		if !strings.Contains(blocksText(replies[i]), want) {
			t.Errorf("reply %d lacks %q", i, want)
		}
		if md := replies[i].Metadata; md == nil || md.EventType != slackReportEvent {
			t.Errorf("reply %d metadata = %+v", i, md)
		}
	}
}

// TestSlackMentionsInert: mentions and links written in alert labels reach Slack as text.
func TestSlackMentionsInert(t *testing.T) {
	srv := slacktest.New(t, testToken, "incidents")
	sink := openSlackSink(t, srv, SinkConfig{Channel: "incidents"}, "")
	rep := hostile()
	rep.Alerts[0].Labels["click"] = "<https://evil.example|click> <@U123> <#C999> <!subteam^S1>"
	rep.Summary += " <https://evil.example|click>"
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append(srv.Roots("incidents"), srv.Replies("incidents", th.RootID)...) {
		text := blocksText(m)
		for _, bad := range []string{"<!channel>", "<!here>", "<@U", "<#C", "<!subteam", "<https://evil", "@channel", "@here", "@everyone", "<script"} {
			if strings.Contains(text, bad) {
				t.Errorf("message shows %q live:\n%s", bad, text)
			}
		}
		if !strings.Contains(text, "&lt;!channel&gt; checkout") {
			t.Errorf("the service's <!channel> is not shown as text:\n%s", text)
		}
	}
}

// TestSlackLongReportTruncated: a report past Slack's limits is cut, with a marker and the link
// to the full report, and Slack accepts it.
func TestSlackLongReportTruncated(t *testing.T) {
	srv := slacktest.New(t, testToken, "incidents")
	sink := openSlackSink(t, srv, SinkConfig{Channel: "incidents"}, "https://triaged.example")
	rep := openedP1()
	for i := range 120 {
		rep.Logs = append(rep.Logs, triaged.LogTail{Source: "pod-" + strings.Repeat("x", i%7),
			Lines: []string{strings.Repeat("a very long log line & <more> ", 40), strings.Repeat("é🙂", 300)}})
	}
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	replies := srv.Replies("incidents", th.RootID)
	if len(replies) != 1 {
		t.Fatalf("%d replies, want 1", len(replies))
	}
	blocks := replies[0].Blocks
	last := blocks[len(blocks)-1].Text.Text
	if !strings.Contains(last, "Cut to fit Slack's limits") || !strings.Contains(last, "<https://triaged.example/api/v1/incidents/"+rep.IncidentID+"/report.md|report.md>") {
		t.Errorf("last block = %q, want the cut marker and the link to the full report", last)
	}
	if n := slacktest.Len(blocksText(replies[0])); n > slacktest.MaxMessage || len(blocks) > slacktest.MaxBlocks {
		t.Errorf("message of %d characters in %d blocks", n, len(blocks))
	}
	for i, b := range blocks {
		if strings.Count(b.Text.Text, "```")%2 != 0 {
			t.Errorf("block %d leaves a code block open", i)
		}
	}
}

// TestSlackMaybePosted: a report that may have been posted already (a crash before its outcome
// was recorded) is looked for and not posted again, by a sink that never saw it (a restart).
func TestSlackMaybePosted(t *testing.T) {
	srv := slacktest.New(t, testToken, "incidents")
	ch := srv.ChannelID("incidents")
	ctx := context.Background()
	th, err := openSlackSink(t, srv, SinkConfig{}, "").Deliver(ctx, Delivery{Report: openedP1(), Channel: ch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openSlackSink(t, srv, SinkConfig{}, "").Deliver(ctx, Delivery{Report: updatedP1(), Thread: th}); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Accepted())

	// The opening again, its thread never recorded; then the update again.
	again, err := openSlackSink(t, srv, SinkConfig{}, "").Deliver(ctx, Delivery{Report: openedP1(), Channel: ch, MaybePosted: true})
	if err != nil {
		t.Fatal(err)
	}
	if *again != *th {
		t.Errorf("thread found = %+v, want %+v", again, th)
	}
	if _, err := openSlackSink(t, srv, SinkConfig{}, "").Deliver(ctx, Delivery{Report: updatedP1(), Thread: th, MaybePosted: true}); err != nil {
		t.Fatal(err)
	}
	for _, c := range srv.Accepted()[before:] {
		if c.Method != "chat.update" {
			t.Errorf("posted again: %s in thread %q", c.Method, c.Message.ThreadTS)
		}
	}
	if n := len(srv.Replies("incidents", th.RootID)); n != 2 {
		t.Errorf("%d replies, want 2", n)
	}
}

// TestSlackErrors: how Slack's failures reach the outbox.
func TestSlackErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("429 gives RetryAfterError", func(t *testing.T) {
		srv := slacktest.New(t, testToken, "incidents")
		srv.FailNext("chat.postMessage", slacktest.Failure{Status: 429, RetryAfter: 7})
		_, err := openSlackSink(t, srv, SinkConfig{Channel: "incidents"}, "").Deliver(ctx, Delivery{Report: openedP1()})
		if after, ok := RetryAfter(err); !ok || after != 7*time.Second {
			t.Errorf("err = %v, want retry after 7s", err)
		}
	})
	t.Run("channel_not_found is permanent", func(t *testing.T) {
		srv := slacktest.New(t, testToken, "incidents")
		_, err := openSlackSink(t, srv, SinkConfig{Channel: "nowhere"}, "").Deliver(ctx, Delivery{Report: openedP1()})
		if !IsPermanent(err) || !strings.Contains(err.Error(), "channel_not_found") {
			t.Errorf("err = %v, want a PermanentError naming channel_not_found", err)
		}
	})
	t.Run("not_in_channel and bad token are permanent", func(t *testing.T) {
		srv := slacktest.New(t, testToken, "incidents")
		srv.Leave("incidents")
		_, err := openSlackSink(t, srv, SinkConfig{Channel: "incidents"}, "").Deliver(ctx, Delivery{Report: openedP1()})
		if !IsPermanent(err) || !strings.Contains(err.Error(), "not_in_channel") {
			t.Errorf("err = %v, want not_in_channel, permanent", err)
		}
		tok := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tok, []byte("xoxb-wrong"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = openSlackSink(t, srv, SinkConfig{Channel: "incidents", TokenFile: tok}, "").Deliver(ctx, Delivery{Report: openedP1()})
		if !IsPermanent(err) || !strings.Contains(err.Error(), "invalid_auth") || strings.Contains(err.Error(), "xoxb-wrong") {
			t.Errorf("err = %v, want invalid_auth, permanent, without the token", err)
		}
	})
	t.Run("5xx is retried", func(t *testing.T) {
		srv := slacktest.New(t, testToken, "incidents")
		srv.FailNext("chat.postMessage", slacktest.Failure{Status: 500}, slacktest.Failure{Error: "internal_error"})
		sink := openSlackSink(t, srv, SinkConfig{Channel: "incidents"}, "")
		for range 2 {
			_, err := sink.Deliver(ctx, Delivery{Report: openedP1()})
			if _, ok := RetryAfter(err); err == nil || IsPermanent(err) || ok {
				t.Errorf("err = %v, want a plain error", err)
			}
		}
	})
	t.Run("a failed reply still returns the thread", func(t *testing.T) {
		srv := slacktest.New(t, testToken, "incidents")
		srv.FailNext("chat.postMessage", slacktest.Failure{Status: 503, OnlyReplies: true})
		sink := openSlackSink(t, srv, SinkConfig{Channel: "incidents"}, "")
		th, err := sink.Deliver(ctx, Delivery{Report: openedP1()})
		if err == nil || th == nil || th.RootID == "" {
			t.Fatalf("thread %+v, err %v; want the root's thread and the reply's error", th, err)
		}
		if _, err := sink.Deliver(ctx, Delivery{Report: openedP1(), Thread: th}); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Replies("incidents", th.RootID)); n != 1 {
			t.Errorf("%d replies after the retry, want 1", n)
		}
	})
	t.Run("a root that cannot be edited", func(t *testing.T) {
		srv := slacktest.New(t, testToken, "incidents")
		sink := openSlackSink(t, srv, SinkConfig{Channel: "incidents"}, "")
		th, err := sink.Deliver(ctx, Delivery{Report: openedP1()})
		if err != nil {
			t.Fatal(err)
		}
		// A transient failure of the edit is retried, without posting the reply twice.
		srv.FailNext("chat.update", slacktest.Failure{Status: 502})
		if _, err := sink.Deliver(ctx, Delivery{Report: updatedP1(), Thread: th}); err == nil || IsPermanent(err) {
			t.Errorf("err = %v, want a retry", err)
		}
		if _, err := sink.Deliver(ctx, Delivery{Report: updatedP1(), Thread: th}); err != nil {
			t.Fatal(err)
		}
		// One for good (the root was deleted): the report is in the thread, not a dead letter.
		srv.FailNext("chat.update", slacktest.Failure{Error: "message_not_found"})
		if _, err := sink.Deliver(ctx, Delivery{Report: resolvedP1(), Thread: th}); err != nil {
			t.Errorf("err = %v, want the report delivered", err)
		}
		if n := len(srv.Replies("incidents", th.RootID)); n != 3 {
			t.Errorf("%d replies, want 3", n)
		}
	})
	t.Run("no channel", func(t *testing.T) {
		srv := slacktest.New(t, testToken, "incidents")
		_, err := openSlackSink(t, srv, SinkConfig{}, "").Deliver(ctx, Delivery{Report: openedP1()})
		if !IsPermanent(err) || !strings.Contains(err.Error(), "no channel") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSlackWebhook(t *testing.T) {
	srv := slacktest.New(t, testToken, "alerts")
	urlFile := filepath.Join(t.TempDir(), "webhook-url")
	if err := os.WriteFile(urlFile, []byte(srv.WebhookURL("alerts")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanSink(SinkConfig{Name: "hook", Type: "slack_webhook", URLFile: urlFile})
	if err != nil {
		t.Fatal(err)
	}
	sink, _, err := plan.Open(SinkEnv{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, rep := range []*triaged.Report{openedP1(), updatedP1(), updatedP1()} {
		if th, err := sink.Deliver(ctx, Delivery{Report: rep, Channel: "#routed"}); th != nil || err != nil {
			t.Fatalf("Deliver = %v, %v", th, err)
		}
	}
	msgs := srv.Roots("alerts")
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want one per report (the repeated update dropped)", len(msgs))
	}
	if first := msgs[1].Blocks[0].Text.Text; !strings.HasPrefix(first, "🔴 *"+updatedP1().Headline) {
		t.Errorf("message starts with %q, want the headline", first)
	}
	if !strings.Contains(blocksText(msgs[1]), "*INCIDENT UPDATE - P1*") {
		t.Errorf("message lacks the status update")
	}

	srv.FailNext("webhook", slacktest.Failure{Status: 429, RetryAfter: 3}, slacktest.Failure{Status: 404, Error: "no_service"})
	_, err = sink.Deliver(ctx, Delivery{Report: resolvedP1()})
	if after, ok := RetryAfter(err); !ok || after != 3*time.Second {
		t.Errorf("429: err = %v", err)
	}
	_, err = sink.Deliver(ctx, Delivery{Report: resolvedP1()})
	if !IsPermanent(err) || !strings.Contains(err.Error(), "no_service") {
		t.Errorf("404: err = %v, want permanent no_service", err)
	}
	srv.Close()
	_, err = sink.Deliver(ctx, Delivery{Report: resolvedP1()})
	if err == nil || IsPermanent(err) || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("server down: err = %v, want a plain error without the secret URL", err)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("err = %v wraps nothing", err)
	}
}
