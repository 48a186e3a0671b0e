package notify

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/triaged/triaged"
)

// markdown is text that is already safe to place in a report: the output of the functions below
// that build Markdown themselves. The renderer pipes every other value a template prints through
// md, so a template cannot forget to escape an alert label (see escapeActions).
type markdown string

// md is the template's escape function for untrusted inline text. Values that are already
// markdown pass through unchanged, which makes it idempotent; nil prints as nothing rather than
// as "<nil>".
func md(v any) markdown {
	switch v := v.(type) {
	case nil:
		return ""
	case markdown:
		return v
	case string:
		return markdown(escapeMarkdown(v))
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return ""
	}
	return markdown(escapeMarkdown(fmt.Sprint(v)))
}

// escapeMarkdown makes untrusted text (alert labels and annotations, and anything built from
// them) safe to print inline in a Markdown report, in a list item or after a "**Field**:" label.
// The result is one line that renders as the literal text: it cannot open a heading, list, quote,
// table, code span, emphasis, link, image, HTML tag or entity, and it does not mention anyone.
//
//   - Line breaks and tabs become spaces: a newline in a label value would otherwise end the list
//     item and let the rest of the value start a block of its own.
//   - Other control characters and bidirectional overrides become U+FFFD, so a value cannot hide
//     or reorder what a reader sees.
//   - Inline syntax characters are backslash-escaped, which CommonMark defines for every ASCII
//     punctuation character. The set is kept small, and a character is left alone where it
//     cannot mean anything (an underscore inside a word, "<" before a space or a digit), so raw
//     output such as stdout stays readable: "job_name", "respond < 15 min".
//   - A "<" that could open something becomes an entity, which both CommonMark and Slack read as
//     literal text: no HTML, no <http://autolink>, no Slack <!channel> or <@U123>.
//   - "@name" at the start of a word gets a zero-width space after the @, which renders the same
//     but is no longer an @channel/@here/@user mention in Mattermost, GitHub or Discord.
func escapeMarkdown(s string) string {
	s = strings.TrimSpace(flatten(s))
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	start := escapeLineStart(&b, s)
	prev := rune(' ')
	if start > 0 {
		prev, _ = utf8.DecodeLastRuneInString(s[:start])
	}
	for i, r := range s[start:] {
		i += start
		next, size := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
		if size == 0 {
			next = ' ' // the end of the value counts as a word boundary
		}
		switch r {
		case '\\', '`', '*', '[', ']', '|', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '_':
			// Between two letters or digits an underscore cannot open or close emphasis, so
			// label names such as runbook_url stay readable.
			if !isAlnum(prev) || !isAlnum(next) {
				b.WriteByte('\\')
			}
			b.WriteByte('_')
		case '<':
			// "a < b" and "< 15 min" are literal; only "<" before a name, "/", "!", "?", "@" or
			// "#" can open an HTML tag, an autolink or a Slack-style <!channel>.
			if unicode.IsSpace(next) || unicode.IsDigit(next) || next == '=' {
				b.WriteByte('<')
			} else {
				b.WriteString("&lt;")
			}
		case '&':
			if startsEntity(s[i+1:]) {
				b.WriteString("&amp;")
			} else {
				b.WriteByte('&')
			}
		case '@':
			b.WriteByte('@')
			if !isWordRune(prev) && isWordRune(next) {
				b.WriteString("\u200b")
			}
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// escapeLineStart escapes the block markers that only mean something at the start of a line
// ("# heading", "- item", "+ item", "1. item", "2) item", "=== setext underline"), because a
// template may print a value at the start of a list item or a line. It writes the escaped prefix
// to b and returns how many bytes of s it consumed.
func escapeLineStart(b *strings.Builder, s string) int {
	switch s[0] {
	case '>':
		b.WriteString("&gt;") // a quote; elsewhere ">" is literal text
		return 1
	case '#', '-', '+', '=':
		b.WriteByte('\\')
		b.WriteByte(s[0])
		return 1
	}
	n := 0
	for n < len(s) && n < 10 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n > 0 && n < len(s) && (s[n] == '.' || s[n] == ')') && (n+1 == len(s) || s[n+1] == ' ') {
		b.WriteString(s[:n])
		b.WriteByte('\\')
		b.WriteByte(s[n])
		return n + 1
	}
	return 0
}

// startsEntity reports whether s (the text after an '&') would make it an HTML entity reference
// such as "&amp;" or "&#60;". Only then is the '&' escaped, so that URLs with query strings in
// annotations stay readable in raw output.
func startsEntity(s string) bool {
	s = strings.TrimPrefix(s, "#")
	n := 0
	for n < len(s) && n < 32 && (isASCIIAlnum(s[n])) {
		n++
	}
	return n > 0 && n < len(s) && s[n] == ';'
}

func isASCIIAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// flatten puts s on one line (every line break and tab becomes a space) and replaces the
// characters that could hide or reorder text: other control characters and the bidirectional
// embeddings, overrides and isolates (the "Trojan Source" characters).
func flatten(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n', r == '\r', r == '\t', r == '\v', r == '\f', r == 0x85, r == 0x2028, r == 0x2029:
			return ' '
		case hiding(r):
			return utf8.RuneError
		}
		return r
	}, strings.ReplaceAll(s, "\r\n", "\n"))
}

// hiding reports whether r is a control character or a bidirectional formatting character.
func hiding(r rune) bool {
	return unicode.IsControl(r) || r == utf8.RuneError ||
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

// code renders v as an inline code span. Inside a code span Markdown, HTML and mentions are
// literal text; the only way out is a run of backticks as long as the delimiter, so the delimiter
// is one backtick longer than the longest run in the text.
func code(v any) markdown {
	s := strings.TrimSpace(flatten(fmt.Sprint(derefOrEmpty(v))))
	if s == "" {
		return ""
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	pad := ""
	if s[0] == '`' || s[len(s)-1] == '`' {
		pad = " " // CommonMark strips one space on each side, so a backtick can touch the fence
	}
	return markdown(fence + pad + s + pad + fence)
}

func derefOrEmpty(v any) any {
	if v == nil {
		return ""
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		return rv.Elem().Interface()
	}
	return v
}

func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// labels renders a label set the way Prometheus and Alertmanager print one,
// {alertname="TargetDown", job="node"}, in a code span.
func labels(m map[string]string) markdown {
	if len(m) == 0 {
		return "`{}`"
	}
	return code(labelSetText(m))
}

// labelSetText prints a label set as Prometheus does, sorted by name. Values are Go-quoted, so a
// newline or a control character in a value shows as \n or \x00 instead of being acted on or
// lost; a name that is not a legacy label name is quoted too (Prometheus 3's syntax for UTF-8
// names).
func labelSetText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if legacyLabelName(k) {
			b.WriteString(k)
		} else {
			b.WriteString(strconv.Quote(k))
		}
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func legacyLabelName(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return k != ""
}

// link renders a Markdown link to an http or https URL. URLs come from the webhook too (the
// Alertmanager external URL, generator URLs), so anything else — javascript:, data:, a relative
// path — is shown as inert text instead of a link, and a password in the URL is redacted.
func link(text any, raw string) markdown {
	label := md(text)
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return label
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return label + " (" + code(raw) + ", not an http(s) link)"
	}
	if label == "" {
		label = md(u.Host)
	}
	return markdown("[" + string(label) + "](" + destinationEscaper.Replace(u.Redacted()) + ")")
}

// destinationEscaper percent-encodes what would end a link destination early or be parsed as
// something else: spaces, parentheses, angle brackets, backslashes and backticks (code spans
// bind tighter than links).
var destinationEscaper = strings.NewReplacer(
	" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", "\\", "%5C", "`", "%60",
)

// codeBlock renders lines (a log excerpt) as a fenced code block. Indentation is kept; control
// characters are replaced as in flatten; a line break inside one line starts a new line, which
// is harmless inside the fence. The fence is longer than any run of backticks in the lines, so
// no line can close it.
func codeBlock(lines []string) markdown {
	if len(lines) == 0 {
		return ""
	}
	var body strings.Builder
	for _, l := range lines {
		l = strings.ReplaceAll(l, "\r\n", "\n")
		for part := range strings.SplitSeq(l, "\n") {
			body.WriteString(strings.Map(func(r rune) rune {
				if r == '\t' {
					return r
				}
				if r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029 || hiding(r) {
					return utf8.RuneError
				}
				return r
			}, part))
			body.WriteByte('\n')
		}
	}
	fence := strings.Repeat("`", max(3, longestRun(body.String(), '`')+1))
	return markdown(fence + "text\n" + body.String() + fence)
}

// checkbox ticks a box for a true condition, in the template's sense of true: a set value, a
// non-empty list, true.
func checkbox(v any) markdown {
	if ok, _ := template.IsTrue(v); ok {
		return "[x]"
	}
	return "[ ]"
}

// utc formats a time.Time or *time.Time as RFC 3339 in UTC, the one time format of a report.
func utc(v any) string {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case *time.Time:
		if v != nil {
			t = *v
		}
	}
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

// duration says how long an incident lasted, from a start time to an optional end time.
func duration(from time.Time, to *time.Time) string {
	if to == nil || from.IsZero() || to.IsZero() || to.Before(from) {
		return "unknown"
	}
	return triaged.HumanDuration(to.Sub(from))
}

// plural picks the word for a count: {{plural .TruncatedAlerts "alert" "alerts"}}.
func plural(n any, one, many string) string {
	rv := reflect.ValueOf(n)
	switch {
	case rv.CanInt() && rv.Int() == 1, rv.CanUint() && rv.Uint() == 1:
		return one
	}
	return many
}

// truncate cuts s to at most n runes, marking the cut, so one long probe body cannot swamp a
// report.
func truncate(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n]) + "…"
}

// trusted renders Markdown written by the operators — runbook steps from the runbook library,
// not alert fields — as Markdown, so its code spans and emphasis survive. It is still kept to one
// line and kept from pinging anyone: "<!" and "<@" lose their meaning and "@word" mentions are
// broken as in md.
func trusted(v any) markdown {
	s := flatten(fmt.Sprint(derefOrEmpty(v)))
	s = strings.NewReplacer("<!", "&lt;!", "<@", "&lt;@").Replace(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '@' && i+1 < len(s) && isASCIIAlnum(s[i+1]) && (i == 0 || !isASCIIAlnum(s[i-1])) {
			b.WriteString("\u200b")
		}
	}
	return markdown(b.String())
}
