package notify

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/fielderr"
	"github.com/triaged/triaged/internal/golden"
)

// TestSlackGolden keeps the Slack payloads of each kind of message under testdata/slack/.
func TestSlackGolden(t *testing.T) {
	r, err := NewSlackRenderer("", "https://triaged.example")
	if err != nil {
		t.Fatal(err)
	}
	noExternal, err := NewSlackRenderer("", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rep  *triaged.Report
		msg  func(*triaged.Report) (slackMessage, error)
	}{
		{"root_opened_p1", openedP1(), r.Root},
		{"root_updated_p1", updatedP1(), r.Root},
		{"root_resolved_p1", resolvedP1(), r.Root},
		{"root_flapping_p2", flappingP2(), r.Root},
		{"root_pending_p3", pendingP3(), r.Root},
		{"reply_opened_p1", openedP1(), r.Report},
		{"reply_updated_p1", updatedP1(), r.Report},
		{"reply_resolved_p1", resolvedP1(), r.Report},
		{"reply_hostile", hostile(), r.Report},
		{"webhook_reopened_p1", reopenedP1(), r.Whole},
		{"reply_metrics_p1", measuredP1(), r.Report},
		{"reply_prometheus_down_p1", prometheusDownP1(), r.Report},
		{"webhook_metrics_p1", measuredP1(), r.Whole},
		{"reply_metrics_no_external_url", measuredP1(), noExternal.Report},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.msg(tc.rep)
			if err != nil {
				t.Fatal(err)
			}
			body, err := encodeSlack(m) // what the sinks send
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := json.Indent(&got, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "slack", tc.name+".json"), got.Bytes())
			// The mrkdwn as a person reads it, to review the goldens' diffs by eye.
			var text []string
			for _, b := range m.Blocks {
				if b.Type == "image" {
					text = append(text, "[image "+b.Title.Text+" "+b.ImageURL+"]\n"+b.AltText)
					continue
				}
				text = append(text, b.Text.Text)
			}
			golden.Check(t, filepath.Join("testdata", "slack", tc.name+".txt"), []byte(strings.Join(text, "\n\n----- block -----\n\n")+"\n"))
		})
	}
}

func TestEscapeMrkdwn(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"#inc-checkout", "#inc-checkout"}, // no backslash escapes in mrkdwn
		{"a & b < c > d", "a &amp; b &lt; c &gt; d"},
		{"<!channel> <!here> <@U123> <#C1|x>", "&lt;!channel&gt; &lt;!here&gt; &lt;@\u200bU123&gt; &lt;#C1|x&gt;"},
		{"<https://evil|click>", "&lt;https://evil|click&gt;"},
		{"@channel hi @here, mail a@b.c", "@\u200bchannel hi @\u200bhere, mail a@b.c"},
		{"&amp; stays text", "&amp;amp; stays text"},
		{"two\nlines\u202e", "two lines\ufffd"},
	} {
		if got := escapeMrkdwn(tc.in); got != tc.want {
			t.Errorf("escapeMrkdwn(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		got  mrkdwn
		want string
	}{
		{scode("a`b<c"), "`aˋb&lt;c`"},
		{slink("x|y", "https://h.example/a?b=1&c=<2>|"), "<https://h.example/a?b=1&amp;c=%3C2%3E%7C|x|y>"},
		{slink("x", "javascript:alert(1)"), "x (`javascript:alert(1)`, not an http(s) link)"},
		{slink("x", "https://user:pw@h.example/"), "<https://user:xxxxx@h.example/|x>"},
		{scodeBlock([]string{"```", "<!channel>"}), "```\nˋˋˋ\n&lt;!channel&gt;\n```"},
		{strusted("see [doc](https://d.example) **now** @team <!here>"), "see <https://d.example|doc> *now* @\u200bteam &lt;!here&gt;"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestToMrkdwn: the template's Markdown becomes mrkdwn, headings whose line goes on in an
// action included.
func TestToMrkdwn(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"## TITLE - {{.}}\n**Bold**: {{.}}\n", "*TITLE - v*\n*Bold*: v\n"},
		{"x\n### Sub\n- [ ] a\n- [x] b\n- c\n  - d", "x\n*Sub*\n• ☐ a\n• ☑ b\n• c\n    ◦ d"},
		{"### Alerts{{if true}}\n- {{.}}{{end}}", "*Alerts*\n• v"},
	} {
		r, err := NewSlackRenderer(writeSlackTemplate(t, tc.in), "")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := r.tmpl.ExecuteTemplate(&b, r.report, "v"); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%q renders %q, want %q", tc.in, b.String(), tc.want)
		}
	}
}

func writeSlackTemplate(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "slack.tmpl")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSlackTemplateOverride: a sink's template may redefine the root message and blocks of the
// report, its values still escaped; a broken one is refused at open, naming the file.
func TestSlackTemplateOverride(t *testing.T) {
	r, err := NewSlackRenderer(writeSlackTemplate(t, `{{define "slack_root"}}:rotating_light: {{.Service}} is {{.Status}}{{end}}{{define "summary"}}
Custom: {{.Summary}}{{end}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	rep := openedP1()
	rep.Service = "<!channel> checkout"
	root, _ := r.Root(rep)
	if got := root.Blocks[0].Text.Text; got != ":rotating_light: &lt;!channel&gt; checkout is INVESTIGATING" {
		t.Errorf("root = %q", got)
	}
	reply, _ := r.Report(rep)
	if !strings.Contains(reply.Blocks[0].Text.Text, "*Summary*\nCustom: Checkout returns 503") {
		t.Errorf("the summary block was not replaced:\n%s", reply.Blocks[0].Text.Text)
	}
	p := writeSlackTemplate(t, `{{define "slack_root"}}{{.Servce}}{{end}}`)
	if _, err := NewSlackRenderer(p, ""); err == nil || !strings.Contains(err.Error(), "Servce") {
		t.Errorf("a template with a typo loads: %v", err)
	}
}

// TestSplitSections: parts stay within the limit, code blocks are closed in each part, and
// nothing is lost but the fences added.
func TestSplitSections(t *testing.T) {
	long := strings.Repeat("word &amp; ", 700)
	text := "intro\n```\n" + strings.Repeat("log line &lt;x&gt;\n", 400) + "```\n" + long + "\nend 🙂"
	parts := splitSections(text, 3000)
	if len(parts) < 4 {
		t.Fatalf("%d parts", len(parts))
	}
	var joined strings.Builder
	for i, p := range parts {
		if n := slackLen(p); n > 3000 {
			t.Errorf("part %d has %d characters", i, n)
		}
		if strings.Count(p, "```")%2 != 0 {
			t.Errorf("part %d leaves a code block open", i)
		}
		if strings.HasSuffix(strings.TrimSuffix(p, "\n```"), "&am") {
			t.Errorf("part %d cuts an entity", i)
		}
		joined.WriteString(p)
	}
	for _, want := range []string{"intro", "end 🙂", "log line &lt;x&gt;"} {
		if !strings.Contains(joined.String(), want) {
			t.Errorf("lost %q", want)
		}
	}
	if got := strings.Count(joined.String(), "word &amp;"); got != 700 {
		t.Errorf("%d words kept of 700", got)
	}
}

func TestSlackCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg  SinkConfig
		errs []string
	}{
		{SinkConfig{Type: "slack", TokenFile: "t"}, nil},
		{SinkConfig{Type: "slack"}, []string{"token_file: a slack sink needs token_file, a file holding the bot token (xoxb-…)"}},
		{SinkConfig{Type: "slack", TokenFile: "t", URL: "slack.com/api", Path: "p", URLFile: "u"}, []string{
			`url: "slack.com/api" is not an absolute http(s) URL`, "path: a slack sink takes no path", "url_file: a slack sink takes no url_file"}},
		{SinkConfig{Type: "slack_webhook", URLFile: "u", Template: "x.tmpl"}, nil},
		{SinkConfig{Type: "slack_webhook", Channel: "#x", TokenFile: "t"}, []string{
			"url_file: a slack_webhook sink needs url_file, a file holding the incoming-webhook URL (a secret)",
			"channel: an incoming webhook posts to the channel it was created for; use a slack sink (bot token) to choose channels",
			"token_file: a slack_webhook sink takes no token_file"}},
	} {
		_, err := PlanSink(tc.cfg)
		var got []string
		for _, fe := range fielderr.List(err) {
			got = append(got, fe.Field+": "+fe.Msg)
		}
		if strings.Join(got, "\n") != strings.Join(tc.errs, "\n") {
			t.Errorf("PlanSink(%+v):\n got %q\nwant %q", tc.cfg, got, tc.errs)
		}
	}
}

// TestOpenSlackSecrets: the token and webhook URL files are read at open, and bad ones refused
// without printing what they hold.
func TestOpenSlackSecrets(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("xoxb-secret with spaces"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []SinkConfig{
		{Name: "s", Type: "slack", TokenFile: filepath.Join(dir, "missing")},
		{Name: "s", Type: "slack", TokenFile: bad},
		{Name: "w", Type: "slack_webhook", URLFile: bad},
	} {
		plan, err := PlanSink(c)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = plan.Open(SinkEnv{})
		if err == nil || strings.Contains(err.Error(), "secret") && strings.Contains(err.Error(), "xoxb-secret") {
			t.Errorf("open %+v: %v", c, err)
		}
	}
}
