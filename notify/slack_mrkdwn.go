package notify

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode"
	"unicode/utf8"

	"github.com/triaged/triaged"
)

// mrkdwn is text already safe to place in a Slack message: the output of the functions below.
// The Slack renderer pipes every other value a template prints through smd (as "md"), so a
// template cannot forget to escape an alert label.
type mrkdwn string

// slackFuncs replace the Markdown builders of funcMap with Slack mrkdwn ones, under the same
// names, so the report template (templates/report.md.tmpl) renders as mrkdwn, and add what the
// root message needs. reportURL is the link to the full report, "" without an external URL.
func slackFuncs(reportURL func(*triaged.Report) string) template.FuncMap {
	return template.FuncMap{
		"md":            smd,
		"code":          scode,
		"labels":        slabels,
		"link":          slink,
		"codeBlock":     scodeBlock,
		"checkbox":      scheckbox,
		"trusted":       strusted,
		"reportURL":     reportURL,
		"severityEmoji": severityEmoji,
	}
}

// smd escapes untrusted text for mrkdwn. Slack's mrkdwn has no backslash escapes; what it
// defines is that &, < and > are written as entities, which is also what keeps <!channel>,
// <@U123>, <#C123> and <https://evil|click> written in a label from pinging or linking. Text
// "@channel" and "@here" are only mentions with link_names, which the sinks never set; a
// zero-width space after the @ makes sure anyway. Formatting characters (*, _, ~, `) have no
// escape in mrkdwn: in a value they may format the text, never ping or link.
func smd(v any) mrkdwn {
	switch v := v.(type) {
	case nil:
		return ""
	case mrkdwn:
		return v
	case string:
		return mrkdwn(escapeMrkdwn(v))
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return ""
	}
	return mrkdwn(escapeMrkdwn(fmt.Sprint(v)))
}

var mrkdwnEntities = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escapeMrkdwn(s string) string {
	return breakMentions(mrkdwnEntities.Replace(strings.TrimSpace(flatten(s))))
}

// breakMentions puts a zero-width space after an @ that starts a word.
func breakMentions(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	prev := ' '
	for i, r := range s {
		b.WriteRune(r)
		if r == '@' && !isWordRune(prev) {
			if next, _ := utf8.DecodeRuneInString(s[i+1:]); isWordRune(next) {
				b.WriteString("\u200b")
			}
		}
		prev = r
	}
	return b.String()
}

// noBackticks replaces backticks, which no code span or block of mrkdwn can contain, with a
// look-alike, so a value cannot close the code it is shown in.
var noBackticks = strings.NewReplacer("`", "ˋ")

func scode(v any) mrkdwn {
	s := escapeMrkdwn(fmt.Sprint(derefOrEmpty(v)))
	if s == "" {
		return ""
	}
	return mrkdwn("`" + noBackticks.Replace(s) + "`")
}

// slabels prints a label set as Prometheus does, {name="value", ...}, in a code span.
func slabels(m map[string]string) mrkdwn { return scode(labelSetText(m)) }

// slink is <URL|text> for an http(s) URL (with a password redacted), else the text and the URL
// shown inert, as link does for Markdown.
func slink(text any, raw string) mrkdwn {
	label := smd(text)
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return label
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return label + " (" + scode(raw) + ", not an http(s) link)"
	}
	if label == "" {
		label = smd(u.Host)
	}
	return mrkdwn("<" + slackURLEscaper.Replace(u.Redacted()) + "|" + string(label) + ">")
}

// slackURLEscaper keeps a URL from ending the <URL|text> early or carrying an entity.
var slackURLEscaper = strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C", " ", "%20")

// scodeBlock prints lines (a log excerpt) as a ``` block: mrkdwn fences cannot be made longer,
// so backticks in the lines are replaced instead, and &, <, > are entities as everywhere.
func scodeBlock(lines []string) mrkdwn {
	if len(lines) == 0 {
		return ""
	}
	var body strings.Builder
	for _, l := range lines {
		for part := range strings.SplitSeq(strings.ReplaceAll(l, "\r\n", "\n"), "\n") {
			part = strings.Map(func(r rune) rune {
				if r == '\t' {
					return r
				}
				if r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029 || hiding(r) {
					return utf8.RuneError
				}
				return r
			}, part)
			body.WriteString(breakMentions(noBackticks.Replace(mrkdwnEntities.Replace(part))))
			body.WriteByte('\n')
		}
	}
	return mrkdwn("```\n" + body.String() + "```")
}

func scheckbox(v any) mrkdwn {
	if ok, _ := template.IsTrue(v); ok {
		return "☑"
	}
	return "☐"
}

var markdownLink = regexp.MustCompile(`\[([^\]]*)\]\(([^)\s]*)\)`)

// strusted renders the operators' Markdown (runbook steps) as mrkdwn: its links become Slack
// links (http(s) only), **bold** becomes *bold*; it is kept to one line and pings no one.
func strusted(v any) mrkdwn {
	s := mrkdwnEntities.Replace(flatten(fmt.Sprint(derefOrEmpty(v))))
	s = markdownLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := markdownLink.FindStringSubmatch(m)
		return string(slink(mrkdwn(sub[1]), strings.ReplaceAll(sub[2], "&amp;", "&")))
	})
	return mrkdwn(breakMentions(strings.ReplaceAll(s, "**", "*")))
}

// severityEmoji is the seed's colour of a severity: 🔴 P1, 🟠 P2, 🟡 P3, 🟢 P4.
func severityEmoji(s triaged.Severity) string {
	switch s {
	case triaged.P1:
		return "🔴"
	case triaged.P2:
		return "🟠"
	case triaged.P3:
		return "🟡"
	case triaged.P4:
		return "🟢"
	}
	return "⚪"
}

// toMrkdwn rewrites the literal text of a template, written in Markdown, as mrkdwn: "## Title"
// and "### Title" lines become bold lines, **bold** becomes *bold*, "- [ ] " and "- " list
// items become ☐ and • bullets (mrkdwn has no headings and no lists). Only the template's own
// text is rewritten, never a value, so this cannot turn a label into markup. A heading whose
// line goes on in an action ("## INCIDENT RESOLVED - {{.Severity}}") is closed at the end of
// its line in the next text node of the same list.
func toMrkdwn(list *parse.ListNode) {
	if list == nil {
		return
	}
	open := false
	for i, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			nextIsAction := i+1 < len(list.Nodes) && list.Nodes[i+1].Type() == parse.NodeAction
			var text string
			text, open = textToMrkdwn(string(n.Text), open, i == 0, nextIsAction)
			n.Text = []byte(text)
		case *parse.IfNode:
			toMrkdwn(n.List)
			toMrkdwn(n.ElseList)
		case *parse.RangeNode:
			toMrkdwn(n.List)
			toMrkdwn(n.ElseList)
		case *parse.WithNode:
			toMrkdwn(n.List)
			toMrkdwn(n.ElseList)
		}
	}
}

func textToMrkdwn(s string, open, atLineStart, nextIsAction bool) (string, bool) {
	var b strings.Builder
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if i > 0 || atLineStart {
			line = lineStart(line, &open)
		}
		b.WriteString(strings.ReplaceAll(line, "**", "*"))
		last := i == len(lines)-1
		if open && (!last || !nextIsAction) {
			trimmed := strings.TrimRightFunc(b.String(), unicode.IsSpace)
			b.Reset()
			b.WriteString(trimmed + "*")
			open = false
		}
		if !last {
			b.WriteByte('\n')
		}
	}
	return b.String(), open
}

// lineStart rewrites the Markdown block marker a line starts with.
func lineStart(line string, open *bool) string {
	if h := strings.TrimLeft(line, "#"); len(h) < len(line) && len(line)-len(h) <= 6 && strings.HasPrefix(h, " ") {
		*open = true
		return "*" + strings.TrimLeft(h, " ")
	}
	for _, r := range []struct{ md, slack string }{
		{"- [ ] ", "• ☐ "}, {"- [x] ", "• ☑ "}, {"- ", "• "}, {"  - ", "    ◦ "},
	} {
		if rest, ok := strings.CutPrefix(line, r.md); ok {
			return r.slack + rest
		}
	}
	return line
}
