package notify

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/chattest"
	"github.com/triaged/triaged/internal/golden"
)

const testExternalURL = "https://triaged.example.com"

// secretFile writes a secret as an operator would, with the editor's trailing newline.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openPlanned opens a sink the way the daemon does: checked by PlanSink, then opened.
func openPlanned(t *testing.T, c SinkConfig) Sink {
	t.Helper()
	plan, err := PlanSink(c)
	if err != nil {
		t.Fatalf("PlanSink(%+v): %v", c, err)
	}
	s, closeSink, err := plan.Open(SinkEnv{ExternalURL: testExternalURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeSink() })
	return s
}

func mattermostSink(t *testing.T, mm *chattest.Mattermost, channel string) Sink {
	return openPlanned(t, SinkConfig{Name: "mm", Type: "mattermost", URL: mm.URL,
		TokenFile: secretFile(t, mm.Token), Channel: channel})
}

// TestMattermostThread: the opening posts a root message and the full report as its reply; each
// later report edits the root in place and replies in the thread; the channel is resolved from
// team/channel-name.
func TestMattermostThread(t *testing.T) {
	mm := chattest.NewMattermost(t)
	chID := mm.AddChannel("ops", "incidents")
	sink := mattermostSink(t, mm, "ops/incidents")
	ctx := context.Background()

	th, err := sink.Deliver(ctx, Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	posts := mm.Posts()
	if len(posts) != 2 || th == nil || th.Channel != chID || th.RootID != posts[0].ID {
		t.Fatalf("after the opening: thread %+v, posts %+v; want a root in %s and one reply", th, posts, chID)
	}
	if posts[1].RootID != posts[0].ID || posts[0].Props[mmPropPart] != "root" || posts[1].Props[mmPropReport] != openedP1().ID {
		t.Errorf("reply %+v is not the opening report in the root's thread", posts[1])
	}
	if th.RootURL != mm.URL+"/_redirect/pl/"+th.RootID {
		t.Errorf("RootURL = %q", th.RootURL)
	}
	golden.Check(t, "testdata/mattermost_root_opened_p1.md", []byte(posts[0].Message))
	md, _ := mustRenderer(t).Markdown(openedP1())
	if !strings.HasPrefix(posts[1].Message, "**P1 CRITICAL · CheckoutDown") || len(posts[1].Message) < len(md) {
		t.Errorf("the reply is not the full report:\n%s", posts[1].Message)
	}

	for _, rep := range []*triaged.Report{updatedP1(), resolvedP1()} {
		got, err := sink.Deliver(ctx, Delivery{Report: rep, Thread: th})
		if err != nil || *got != *th {
			t.Fatalf("Deliver(%s) = %+v, %v; want the same thread", rep.ID, got, err)
		}
	}
	posts, patches := mm.Posts(), mm.Patches()
	if len(posts) != 4 || len(patches) != 2 {
		t.Fatalf("%d posts, %d patches; want 4 posts (root and 3 replies) and 2 edits of the root", len(posts), len(patches))
	}
	for i, p := range posts[1:] {
		if p.RootID != th.RootID {
			t.Errorf("post %d is not in the thread: %+v", i+1, p)
		}
	}
	if patches[1].PostID != th.RootID || posts[0].Message != patches[1].Message {
		t.Errorf("the root was not edited in place: %+v", patches)
	}
	golden.Check(t, "testdata/mattermost_root_resolved_p1.md", []byte(posts[0].Message))
}

func mustRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMattermostReplyFails: when the first reply fails, the thread is returned with the error,
// and the retry replies into it instead of opening a second root.
func TestMattermostReplyFails(t *testing.T) {
	mm := chattest.NewMattermost(t)
	chID := mm.AddChannel("ops", "incidents")
	sink := mattermostSink(t, mm, chID)
	ctx := context.Background()

	if _, err := sink.Deliver(ctx, Delivery{Report: openedP1()}); err != nil {
		t.Fatal(err)
	}
	mm.FailOn(http.MethodPost, "/api/v4/posts", chattest.Reply{Status: http.StatusInternalServerError, Skip: 1})
	th, err := sink.Deliver(ctx, Delivery{Report: reopenedP1()})
	if err == nil || IsPermanent(err) || th == nil || th.RootID == "" {
		t.Fatalf("Deliver with a failing reply = %+v, %v; want the new thread and a retryable error", th, err)
	}
	if _, err := sink.Deliver(ctx, Delivery{Report: reopenedP1(), Thread: th, MaybePosted: true}); err != nil {
		t.Fatal(err)
	}
	var roots, inThread int
	for _, p := range mm.Posts() {
		if p.RootID == "" {
			roots++
		}
		if p.RootID == th.RootID {
			inThread++
		}
	}
	if roots != 2 || inThread != 1 {
		t.Errorf("%d roots and %d replies in the reopened thread; want 2 roots and 1 reply", roots, inThread)
	}
}

// TestMattermostRootDeleted: when someone deleted the root post, the next report opens a new
// thread in the same channel and returns it, instead of failing every later report.
func TestMattermostRootDeleted(t *testing.T) {
	mm := chattest.NewMattermost(t)
	chID := mm.AddChannel("ops", "incidents")
	sink := mattermostSink(t, mm, chID)
	ctx := context.Background()
	th, err := sink.Deliver(ctx, Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	mm.DeletePost(th.RootID)
	got, err := sink.Deliver(ctx, Delivery{Report: updatedP1(), Thread: th})
	if err != nil || got == nil || got.RootID == th.RootID || got.Channel != chID {
		t.Fatalf("Deliver after the root was deleted = %+v, %v; want a new thread in %s", got, err, chID)
	}
	posts := mm.Posts()
	if len(posts) != 2 || posts[0].ID != got.RootID || posts[1].RootID != got.RootID || posts[1].Props[mmPropReport] != updatedP1().ID {
		t.Errorf("posts %+v; want the new root and the update in its thread", posts)
	}
}

// TestMattermostMaybePosted: a report whose earlier attempt may have been posted is looked for
// by its id in the post props and not posted again, for an opening and for an update.
func TestMattermostMaybePosted(t *testing.T) {
	mm := chattest.NewMattermost(t)
	chID := mm.AddChannel("ops", "incidents")
	sink := mattermostSink(t, mm, chID)
	ctx := context.Background()

	th, err := sink.Deliver(ctx, Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	again, err := sink.Deliver(ctx, Delivery{Report: openedP1(), MaybePosted: true})
	if err != nil || again == nil || *again != *th {
		t.Fatalf("redelivered opening = %+v, %v; want the thread already posted %+v", again, err, th)
	}
	if _, err := sink.Deliver(ctx, Delivery{Report: updatedP1(), Thread: th}); err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Deliver(ctx, Delivery{Report: updatedP1(), Thread: th, MaybePosted: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(mm.Posts()); n != 3 {
		t.Errorf("%d posts; want 3 (root, opening report, update), each once", n)
	}
	// Without MaybePosted nothing is looked up: the sink trusts the outbox's record.
	if _, err := sink.Deliver(ctx, Delivery{Report: updatedP1(), Thread: th}); err != nil || len(mm.Posts()) != 4 {
		t.Errorf("a plain redelivery was not posted: %v", err)
	}
}

// TestMattermostErrors: each refusal becomes the error that tells the outbox how to go on, with
// Mattermost's message.
func TestMattermostErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		channel   string
		routed    string
		token     string
		reply     *chattest.Reply
		permanent bool
		after     time.Duration
		msg       string
	}{
		{name: "rate limited", reply: &chattest.Reply{Status: 429, RetryAfter: "7"}, after: 7 * time.Second, msg: "429 Too Many Requests"},
		{name: "unavailable", reply: &chattest.Reply{Status: 503, RetryAfter: "2"}, after: 2 * time.Second, msg: "503"},
		{name: "server error", reply: &chattest.Reply{Status: 500}, msg: "500 Internal Server Error"},
		{name: "timeout", reply: &chattest.Reply{Status: 408}, msg: "408"},
		{name: "bad token", token: "revoked", permanent: true, msg: "Invalid or expired session"},
		{name: "unknown channel", channel: "ops/nowhere", permanent: true, msg: "look up channel ops/nowhere to http://127.0.0.1"},
		{name: "channel not a member", channel: strings.Repeat("z", 26), permanent: true, msg: "You do not have the appropriate permissions."},
		{name: "no team", channel: strings.Repeat("c", 26), routed: "#incidents", permanent: true, msg: `channel "incidents" is neither a channel id nor team/channel-name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mm := chattest.NewMattermost(t)
			mm.AddChannel("ops", "incidents")
			token := mm.Token
			if tc.token != "" {
				token = tc.token
			}
			sink := openPlanned(t, SinkConfig{Name: "mm", Type: "mattermost", URL: mm.URL,
				TokenFile: secretFile(t, token), Channel: cmpOrString(tc.channel, "ops/incidents")})
			if tc.reply != nil {
				mm.Fail(*tc.reply)
			}
			th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1(), Channel: tc.routed})
			after, hasAfter := RetryAfter(err)
			if err == nil || th != nil || IsPermanent(err) != tc.permanent || after != tc.after || hasAfter != (tc.after > 0) ||
				!strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Deliver = %+v, %v (permanent %v, retry after %v); want permanent %v, after %v, saying %q",
					th, err, IsPermanent(err), after, tc.permanent, tc.after, tc.msg)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("the error shows the token: %v", err)
			}
			if len(mm.Posts()) != 0 {
				t.Errorf("posted despite the error: %+v", mm.Posts())
			}
		})
	}
}

// TestMattermostLongReport: a report over Mattermost's 16,383 characters is cut at a line,
// with a fence left open closed and a link to the full report; the fake refuses longer posts.
func TestMattermostLongReport(t *testing.T) {
	mm := chattest.NewMattermost(t)
	chID := mm.AddChannel("ops", "incidents")
	sink := mattermostSink(t, mm, chID)
	rep := openedP1()
	lines := make([]string, 400)
	for i := range lines {
		lines[i] = strings.Repeat("é", 60)
	}
	rep.Logs = []triaged.LogTail{{Source: "pod", Lines: lines}}
	if _, err := sink.Deliver(context.Background(), Delivery{Report: rep}); err != nil {
		t.Fatal(err)
	}
	reply := mm.Posts()[1].Message
	want := "report truncated to fit one message: [read the full report](" + testExternalURL + "/api/v1/incidents/" + rep.IncidentID + "/report.md)_"
	if n := utf8.RuneCountInString(reply); n > chattest.MattermostMaxRunes || !strings.HasSuffix(reply, want) {
		t.Fatalf("reply of %d characters ends %q; want at most %d, ending %q", n, reply[max(0, len(reply)-200):], chattest.MattermostMaxRunes, want)
	}
	if openFence(reply) != "" || !strings.Contains(reply, "\n```\n\n_… report truncated") {
		t.Errorf("the cut log excerpt's fence was not closed:\n%s", reply[len(reply)-400:])
	}
}

// TestMattermostHostile: labels cannot mention anyone or make links in the root message or the
// report; the report's own links stay links.
func TestMattermostHostile(t *testing.T) {
	mm := chattest.NewMattermost(t)
	chID := mm.AddChannel("ops", "incidents")
	sink := mattermostSink(t, mm, chID)
	rep := hostile()
	rep.Summary += " see https://evil.example/x and www.evil.example @all"
	if _, err := sink.Deliver(context.Background(), Delivery{Report: rep}); err != nil {
		t.Fatal(err)
	}
	posts := mm.Posts()
	golden.Check(t, "testdata/mattermost_root_hostile.md", []byte(posts[0].Message))
	golden.Check(t, "testdata/mattermost_report_hostile.md", []byte(posts[1].Message))
	for _, p := range posts {
		// Code is literal in Mattermost, mentions included (the server leaves code out when it
		// looks for mentions); everything else must be inert.
		text := outsideCode(p.Message)
		for _, bad := range []string{"@channel", "@here", "@all", "https://evil", "www.evil", "](http://evil", "<!channel>"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s post holds %q:\n%s", p.Props[mmPropPart], bad, text)
			}
		}
	}
	if !strings.Contains(posts[1].Message, "](https://triaged.example.com/api/v1/incidents/") && !strings.Contains(posts[0].Message, "[Full report](https://triaged.example.com/") {
		t.Errorf("the full report link is gone")
	}
}

// TestMattermostWebhook: one message per report, headline first, to the routed channel; the
// webhook's key never shows in an error.
func TestMattermostWebhook(t *testing.T) {
	mm := chattest.NewMattermost(t)
	mm.AddChannel("ops", "inc-checkout")
	sink := openPlanned(t, SinkConfig{Name: "mmhook", Type: "mattermost_webhook", URLFile: secretFile(t, mm.HookURL())})
	ctx := context.Background()
	for _, rep := range []*triaged.Report{openedP1(), updatedP1()} {
		if th, err := sink.Deliver(ctx, Delivery{Report: rep, Channel: "#inc-checkout"}); err != nil || th != nil {
			t.Fatalf("Deliver = %v, %v", th, err)
		}
	}
	hooks := mm.Hooks()
	if len(hooks) != 2 || hooks[0].Channel != "inc-checkout" || !strings.HasPrefix(hooks[0].Text, ":red_circle: **P1 CRITICAL · CheckoutDown") ||
		hooks[1].Props[mmPropReport] != updatedP1().ID {
		t.Fatalf("accepted %+v", hooks)
	}
	_, err := sink.Deliver(ctx, Delivery{Report: openedP1(), Channel: "elsewhere"})
	if !IsPermanent(err) || !strings.Contains(err.Error(), "Couldn't find the channel.") {
		t.Errorf("unknown channel: %v; want a permanent error with Mattermost's message", err)
	}
	mm.Close()
	_, err = sink.Deliver(ctx, Delivery{Report: openedP1()})
	if err == nil || IsPermanent(err) || strings.Contains(err.Error(), "hook-key") || !strings.Contains(err.Error(), mm.URL) {
		t.Errorf("unreachable webhook: %v; want a retryable error naming the host, not the key", err)
	}
}

// outsideCode is doc without its fenced code blocks and code spans.
func outsideCode(doc string) string {
	var b strings.Builder
	fence := ""
	for _, line := range strings.Split(doc, "\n") {
		if t := strings.TrimLeft(line, " "); strings.HasPrefix(t, "```") {
			run := t[:longestPrefix(t, '`')]
			if fence == "" {
				fence = run
			} else if len(run) >= len(fence) {
				fence = ""
			}
			continue
		}
		if fence != "" {
			continue
		}
		for i := 0; i < len(line); i++ {
			if line[i] == '\\' {
				b.WriteString(line[i:min(i+2, len(line))])
				i++
				continue
			}
			if line[i] == '`' {
				run := longestPrefix(line[i:], '`')
				if end := strings.Index(line[i+run:], strings.Repeat("`", run)); end >= 0 {
					i += run + end + run - 1
					continue
				}
			}
			b.WriteByte(line[i])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestBreakAutolinks(t *testing.T) {
	for in, want := range map[string]string{
		"see https://x.example/a":  "see https:\u200b//x.example/a",
		"WWW.x.example and awww.x": "WWW\u200b.x.example and awww.x",
		"plain":                    "plain",
	} {
		if got := breakAutolinks(in); got != want {
			t.Errorf("breakAutolinks(%q) = %q, want %q", in, got, want)
		}
	}
	doc := "a https://e.example `https://code` [t](https://keep.example) \\`x https://f\n```\nhttps://fenced\n```\nhttps://after"
	want := "a https:\u200b//e.example `https://code` [t](https://keep.example) \\`x https:\u200b//f\n```\nhttps://fenced\n```\nhttps:\u200b//after"
	if got := inertAutolinks(doc); got != want {
		t.Errorf("inertAutolinks:\n got %q\nwant %q", got, want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"0": 0, "7": 7 * time.Second, "Sat, 14 Mar 2026 09:00:30 GMT": 30 * time.Second, "99999999": 24 * time.Hour,
	} {
		if got, ok := parseRetryAfter(in, now); !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon"} {
		if _, ok := parseRetryAfter(in, now); ok {
			t.Errorf("parseRetryAfter(%q) accepted", in)
		}
	}
	if err := errors.Unwrap(&RetryAfterError{Err: errors.New("x")}); err == nil {
		t.Error("RetryAfterError does not unwrap")
	}
}

// TestFitRunes: the cut text, its closed fence and the marker stay within the limit, however long
// the fence.
func TestFitRunes(t *testing.T) {
	fence := strings.Repeat("`", 40)
	text := "head\n" + fence + "text\n" + strings.Repeat("line of a log\n", 100) + fence + "\ntail"
	for _, limit := range []int{120, 200, 500, 1000} {
		got := fitRunes(text, limit, "https://t.example/r.md")
		if n := utf8.RuneCountInString(got); n > limit || openFence(got) != "" || !strings.Contains(got, "report truncated") {
			t.Errorf("limit %d: %d runes, open fence %q:\n%s", limit, n, openFence(got), got)
		}
	}
	if got := fitRunes("short", 10, ""); got != "short" {
		t.Errorf("a text within the limit was changed: %q", got)
	}
}
