package notify

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEscapeMarkdown(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "checkout", "checkout"},
		{"label name keeps inner underscores", "runbook_url", "runbook_url"},
		{"emphasis underscores", "_private_ and __bold__", `\_private\_ and \_\_bold\_\_`},
		{"asterisks", "a*b* **c**", `a\*b\* \*\*c\*\*`},
		{"backticks", "`rm -rf /`", "\\`rm -rf /\\`"},
		{"newline", "line one\nline two", "line one line two"},
		{"crlf and tab", "a\r\nb\tc", "a b c"},
		{"unicode line separator", "a\u2028b\u0085c", "a b c"},
		{"newline then heading", "ok\n# PWNED", "ok # PWNED"},
		{"surrounding space", "  padded \n", "padded"},
		{"slack channel mention", "<!channel>", "&lt;!channel>"},
		{"slack user mention", "<@U024BE7LH>", "&lt;@\u200bU024BE7LH>"},
		{"html", "<script>alert(1)</script>", "&lt;script>alert(1)&lt;/script>"},
		{"autolink", "<http://evil.example>", "&lt;http://evil.example>"},
		{"literal less-than", "respond < 15 min, a<=b, x<5", "respond < 15 min, a<=b, x<5"},
		{"at-mentions", "@channel @here @all @everyone", "@\u200bchannel @\u200bhere @\u200ball @\u200beveryone"},
		{"mention after punctuation", "(@alice)", "(@\u200balice)"},
		{"email is not a mention", "ops@example.com", "ops@example.com"},
		{"lone at sign", "a @ b", "a @ b"},
		{"markdown link", "[x](http://evil)", `\[x\](http://evil)`},
		{"image", "![img](http://evil/x.png)", `!\[img\](http://evil/x.png)`},
		{"heading", "# PWNED", `\# PWNED`},
		{"bullet", "- [x] done", `\- \[x\] done`},
		{"plus bullet", "+ item", `\+ item`},
		{"ordered item", "1. item", `1\. item`},
		{"ordered item paren", "12) item", `12\) item`},
		{"ordered item alone", "3.", `3\.`},
		{"number is not an item", "1.5 and 10", "1.5 and 10"},
		{"quote at start", "> quoted", "&gt; quoted"},
		{"greater-than inside", "a > b", "a > b"},
		{"setext underline", "===", `\===`},
		{"thematic break", "---", `\---`},
		{"table pipe", "a | b", `a \| b`},
		{"strikethrough", "~~gone~~", `\~\~gone\~\~`},
		{"backslash", `C:\temp\`, `C:\\temp\\`},
		{"entity", "&amp; &copy; &#60; &#x3c;", "&amp;amp; &amp;copy; &amp;#60; &amp;#x3c;"},
		{"ampersand in query", "?a=b&c=d & e", "?a=b&c=d & e"},
		{"bidi override", "abc\u202edcba", "abc\ufffddcba"},
		{"bidi isolate", "x\u2066y\u2069", "x\ufffdy\ufffd"},
		{"terminal escape", "\x1b[31mred", "\ufffd\\[31mred"},
		{"nul", "a\x00b", "a\ufffdb"},
		{"invalid utf-8", "a\xffb", "a\ufffdb"},
		{"unicode text", "Zahlungsdienst für Köln — ok", "Zahlungsdienst für Köln — ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escapeMarkdown(tc.in); got != tc.want {
				t.Errorf("escapeMarkdown(%q)\n got  %q\n want %q", tc.in, got, tc.want)
			}
			checkEscaped(t, tc.in, escapeMarkdown(tc.in))
		})
	}
}

// checkEscaped asserts the properties escapeMarkdown promises, independent of the exact output.
func checkEscaped(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("escapeMarkdown(%q) = %q: invalid UTF-8", in, out)
	}
	if strings.ContainsAny(out, "\n\r\u2028\u2029\u0085\u202e") {
		t.Errorf("escapeMarkdown(%q) = %q: not one line", in, out)
	}
	if out != strings.TrimSpace(out) {
		t.Errorf("escapeMarkdown(%q) = %q: leading or trailing space", in, out)
	}
	if out != "" && strings.ContainsRune("#-+=>", rune(out[0])) {
		t.Errorf("escapeMarkdown(%q) = %q: starts with a block marker", in, out)
	}
	runes := []rune(out)
	for i, r := range runes {
		slashes := 0
		for j := i - 1; j >= 0 && runes[j] == '\\'; j-- {
			slashes++
		}
		escaped := slashes%2 == 1
		next := ' '
		if i+1 < len(runes) {
			next = runes[i+1]
		}
		switch {
		case strings.ContainsRune("`*[]|~", r) && !escaped:
			t.Errorf("escapeMarkdown(%q) = %q: unescaped %q at %d", in, out, r, i)
		case r == '<' && !(unicode.IsSpace(next) || unicode.IsDigit(next) || next == '='):
			t.Errorf("escapeMarkdown(%q) = %q: '<' can open a tag at %d", in, out, i)
		case r == '@' && (i == 0 || !isWordRune(runes[i-1])) && isWordRune(next):
			t.Errorf("escapeMarkdown(%q) = %q: mention at %d", in, out, i)
		case r == '_' && !escaped && (i == 0 || !isAlnum(runes[i-1]) || !isAlnum(next)):
			t.Errorf("escapeMarkdown(%q) = %q: underscore can be emphasis at %d", in, out, i)
		}
	}
}

func FuzzEscapeMarkdown(f *testing.F) {
	for _, s := range []string{"<!channel>", "[x](http://evil)", "a_b", "\\`", "@here", "1. x", "&amp;", "x\n# y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := escapeMarkdown(s)
		checkEscaped(t, s, out)
		if again := md(markdown(out)); string(again) != out {
			t.Errorf("md is not idempotent on %q", out)
		}
	})
}

func TestCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"checkout", "`checkout`"},
		{"a`b", "``a`b``"},
		{"``x``", "``` ``x`` ```"},
		{"`", "`` ` ``"},
		{"<!channel> @here", "`<!channel> @here`"},
		{"two\nlines", "`two lines`"},
	} {
		if got := string(code(tc.in)); got != tc.want {
			t.Errorf("code(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := code((*string)(nil)); got != "" {
		t.Errorf("code(nil pointer) = %q, want empty", got)
	}
}

func TestLabels(t *testing.T) {
	got := labels(map[string]string{
		"alertname": "Evil`Alert`\n# PWNED", "job": "node", "odd.name": "```", "z": "\u202e",
	})
	want := "````{alertname=\"Evil`Alert`\\n# PWNED\", job=\"node\", \"odd.name\"=\"```\", z=\"\\u202e\"}````"
	if string(got) != want {
		t.Errorf("labels() = %s\nwant       %s", got, want)
	}
	if got := labels(nil); got != "`{}`" {
		t.Errorf("labels(nil) = %s", got)
	}
}

func TestLink(t *testing.T) {
	for _, tc := range []struct{ text, url, want string }{
		{"source", "http://prometheus:9090/graph?g0.expr=up", "[source](http://prometheus:9090/graph?g0.expr=up)"},
		{"x", "https://wiki/a (b)/<c>`d`", "[x](https://wiki/a%20%28b%29/%3Cc%3E%60d%60)"},
		{"x", "http://user:secret@wiki/", "[x](http://user:xxxxx@wiki/)"},
		{"Runbook](http://evil)", "https://wiki/", `[Runbook\](http://evil)](https://wiki/)`},
		{"x", "javascript:alert(1)", "x (`javascript:alert(1)`, not an http(s) link)"},
		{"x", "data:text/html,<b>", "x (`data:text/html,<b>`, not an http(s) link)"},
		{"x", "/relative/path", "x (`/relative/path`, not an http(s) link)"},
		{"x", "", "x"},
		{"", "https://wiki.example/", "[wiki.example](https://wiki.example/)"},
	} {
		if got := string(link(tc.text, tc.url)); got != tc.want {
			t.Errorf("link(%q, %q)\n got  %s\n want %s", tc.text, tc.url, got, tc.want)
		}
	}
}

func TestCodeBlock(t *testing.T) {
	got := string(codeBlock([]string{"  indented\tline", "```", "two\nparts", "\x1b[0m"}))
	want := "````text\n  indented\tline\n```\ntwo\nparts\n\ufffd[0m\n````"
	if got != want {
		t.Errorf("codeBlock()\n got  %q\n want %q", got, want)
	}
	if got := codeBlock(nil); got != "" {
		t.Errorf("codeBlock(nil) = %q", got)
	}
}

func TestTrustedKeepsMarkdownButMentionsNoOne(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Check `systemctl status <service>`", "Check `systemctl status <service>`"},
		{"**Roll back** the deploy\nthen verify", "**Roll back** the deploy then verify"},
		{"Tell <!channel> and @here", "Tell &lt;!channel> and @\u200bhere"},
		{"mail ops@example.com", "mail ops@example.com"},
	} {
		if got := string(trusted(tt.in)); got != tt.want {
			t.Errorf("trusted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
