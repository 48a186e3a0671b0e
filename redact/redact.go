// Package redact hides secrets in text (log lines, probe bodies, error messages) before that text
// leaves the process in a report.
//
// A Redactor knows a set of built-in patterns and the patterns an operator configures. Every match
// is replaced by [REDACTED], keeping the name of what was hidden ("password=[REDACTED]",
// "Authorization: Bearer [REDACTED]"), so the reader of a report still knows what was there.
//
// Redaction is a best effort over well-known shapes, not a proof that no secret remains: a secret
// with no recognisable key or format cannot be told apart from any other word. Configure extra
// patterns for the shapes your own services log.
package redact

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// Redactor replaces secrets in text. It is safe for concurrent use; the zero value is not usable,
// call New (New(nil) gives the built-in patterns only).
type Redactor struct {
	rules []rule
}

// rule is one pattern. Its capturing groups decide what is hidden: with none, the whole match; with
// some, only the text of each group, so the surrounding key name and quotes stay readable.
type rule struct {
	name string
	re   *regexp.Regexp
	// hints are lower-case substrings one of which every match contains; a text with none of
	// them skips the regexp. They keep the common case (a line with no secret) cheap.
	hints []string
}

// keyword is the part of a key name that says its value is secret. It must end the key (a suffix
// like "db_password" or "access_token" counts; "password_expired" or "max_tokens" do not). The
// rest of the key name stays outside the match, so it is kept as written.
const keyword = `(?:password|passphrase|passwd|pwd|token|secret|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|account[_-]?key|credentials?)`

// argKeyword is the end of a command-line option's name that says its value is secret.
const argKeyword = `(?:password|passwd|passphrase|pass|pwd|token|secret|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|credentials?)`

// keyHints are the substrings one of which every keyword and argKeyword contains.
var keyHints = []string{"pass", "pwd", "token", "secret", "key", "credential"}

// builtins are tried in order: blocks and URLs first, so a key=value rule never sees half of them.
var builtins = []rule{
	{
		// A PEM or PGP private key, BEGIN to END; a block cut off by a line cap is hidden to the end.
		name:  "private key block",
		re:    regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)`),
		hints: []string{"private key"},
	},
	{
		// The tail of a private key whose BEGIN line fell before the excerpt: base64 lines then END.
		name:  "private key tail",
		re:    regexp.MustCompile(`(?m)((?:^[A-Za-z0-9+/=]{16,}\r?\n)+)-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----`),
		hints: []string{"private key"},
	},
	{
		// scheme://user:password@host: the password goes, the user and host stay. The password
		// runs to the last @ before the path, so one with an @ in it is hidden whole.
		name:  "password in URL",
		re:    regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@"'<>]*:([^\s/?#"'<>]+)@`),
		hints: []string{"://"},
	},
	{
		// Webhook URLs are their own secret: whoever has one can post to the channel.
		name:  "chat webhook URL",
		re:    regexp.MustCompile(`(?i)\b(?:hooks\.slack\.com/(?:services|workflows|triggers)|discord(?:app)?\.com/api/webhooks)/([A-Za-z0-9/_-]+)`),
		hints: []string{"hooks.slack.com", "discord"},
	},
	{
		// A secret on a command line: an option whose name ends in a keyword, then its value
		// after a space or "=", quoted or not: --password x, --db-password=x, --passphrase 'a b',
		// --client-secret x, -token x. A value starting with "-" is the next option, not a value.
		name: "secret argument",
		re: regexp.MustCompile(`(?i)(?:\s|^)--?(?:[a-z0-9]+[-_.])*` + argKeyword + `(?:[ \t]+|=)` +
			`(?:"((?:[^"\\\r\n]|\\.)+)"|'([^'\r\n]+)'|([^\s"'-][^\s"']*))`),
		hints: keyHints,
	},
	{
		// Programs whose password option takes its value glued on (mysql -px, sshpass -px) or
		// after -a (redis-cli -a x).
		name:  "password option",
		re:    regexp.MustCompile(`(?i)\b(?:mysql\w*|mariadb\w*|sshpass)\b[^\n]*?\s-p([^\s"']+)|\bredis-cli\b[^\n]*?\s-a[ \t]+([^\s"']+)`),
		hints: []string{"mysql", "mariadb", "sshpass", "redis-cli"},
	},
	{
		// OpenSSL's pass phrase arguments: -passin pass:x, -passout pass:x.
		name:  "openssl pass phrase",
		re:    regexp.MustCompile(`(?i)\s-pass(?:in|out)?[ \t]+pass:([^\s"']+)`),
		hints: []string{"pass:"},
	},
	{
		// curl -u user:password, --user=user:password: the password goes, the user stays.
		name:  "curl user",
		re:    regexp.MustCompile(`(?i)\bcurl\b[^\n]*?\s(?:-u|--user)(?:[ \t]+|=)?["']?[^\s"':]*:([^\s"']+)`),
		hints: []string{"curl"},
	},
	{
		// Authorization headers of any scheme, short tokens included: the header says it is secret.
		name:  "authorization header",
		re:    regexp.MustCompile(`(?i)\b(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|digest|token|negotiate|aws4-hmac-sha256)[ \t]+)?([^\s"',;]+)`),
		hints: []string{"authorization"},
	},
	{
		// A bearer token outside a header ("using bearer eyJ..."). At least 8 token characters, so
		// prose like "bearer of bad news" is left alone.
		name:  "bearer token",
		re:    regexp.MustCompile(`(?i)\bbearer[ \t]+([A-Za-z0-9\-._~+/]{8,}=*)`),
		hints: []string{"bearer"},
	},
	{
		name:  "cookie header",
		re:    regexp.MustCompile(`(?i)\b(?:set-)?cookie[ \t]*:[ \t]*([^\r\n]+)`),
		hints: []string{"cookie"},
	},
	{
		name:  "AWS secret access key",
		re:    regexp.MustCompile(`(?i)\baws_secret_access_key["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+=]+)`),
		hints: []string{"aws_secret_access_key"},
	},
	{
		// key=value, key = value, key: value, key: "value" and 'key': 'value', JSON and YAML
		// alike. An unquoted value runs to the next space, separator or closing bracket;
		// "key= next" is an empty value, not a secret "next".
		name: "secret value",
		re: regexp.MustCompile(`(?i)` + keyword + `["']?(?:` +
			`[ \t]*[:=][ \t]*"((?:[^"\\\r\n]|\\.)+)"|` +
			`[ \t]*[:=][ \t]*'((?:[^'\\\r\n]|\\.)+)'|` +
			`(?:=|[ \t]+=[ \t]+|[ \t]*:[ \t]*)([^\s"'&,;<>(){}\[\]]+))`),
		hints: keyHints,
	},
	{
		// AWS access key ids: the prefix stays so the reader knows it was one.
		name:  "AWS access key id",
		re:    regexp.MustCompile(`\b(?:AKIA|ASIA)([A-Z0-9]{16})\b`),
		hints: []string{"akia", "asia"},
	},
	{
		// GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_).
		name:  "GitHub token",
		re:    regexp.MustCompile(`\b(?:gh[pousr]_|github_pat_)([A-Za-z0-9_]{20,})\b`),
		hints: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
	},
	{
		// Slack bot, user, app and refresh tokens.
		name:  "Slack token",
		re:    regexp.MustCompile(`\b(?:xox[abeprs]|xapp)-([A-Za-z0-9-]{10,})`),
		hints: []string{"xox", "xapp-"},
	},
	{
		name:  "GitLab token",
		re:    regexp.MustCompile(`\bglpat-([A-Za-z0-9_-]{20,})`),
		hints: []string{"glpat-"},
	},
	{
		name:  "npm token",
		re:    regexp.MustCompile(`\bnpm_([A-Za-z0-9]{36})\b`),
		hints: []string{"npm_"},
	},
	{
		name:  "SendGrid key",
		re:    regexp.MustCompile(`\bSG\.([A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})`),
		hints: []string{"sg."},
	},
	{
		// Twilio API key SIDs (SK…) and account SIDs (AC…): with the account SID, a leaked auth
		// token elsewhere is usable, so neither is shown.
		name:  "Twilio key",
		re:    regexp.MustCompile(`\b(?:SK|AC)([0-9a-fA-F]{32})\b`),
		hints: []string{"sk", "ac"},
	},
	{
		name:  "Google API key",
		re:    regexp.MustCompile(`\bAIza([0-9A-Za-z_-]{35})`),
		hints: []string{"aiza"},
	},
	{
		name:  "Google OAuth token",
		re:    regexp.MustCompile(`\bya29\.([0-9A-Za-z._-]{20,})`),
		hints: []string{"ya29."},
	},
	{
		// Stripe secret, restricted and publishable keys, live and test, and webhook secrets.
		name:  "Stripe key",
		re:    regexp.MustCompile(`\b(?:(?:sk|rk|pk)_(?:live|test)|whsec)_([0-9A-Za-z]{16,})`),
		hints: []string{"_live_", "_test_", "whsec_"},
	},
	{
		// Azure storage: AccountKey=... in connection strings, the sig= of a shared access signature.
		name:  "Azure key",
		re:    regexp.MustCompile(`(?i)(?:\bAccountKey=|[?&]sig=)([^;&\s"']+)`),
		hints: []string{"accountkey=", "sig="},
	},
	{
		// A JSON Web Token: three base64url parts, the first two starting with {" encoded. The
		// header stays; the claims (often personal data) and the signature go.
		name:  "JSON web token",
		re:    regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.(eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+)`),
		hints: []string{"eyj"},
	},
}

// PatternError is a configured pattern that cannot be used. Index is its position in the list
// given to New, so a config loader can point at it.
type PatternError struct {
	Index   int
	Pattern string
	Err     error
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("pattern %d %q: %v", e.Index, e.Pattern, e.Err)
}

func (e *PatternError) Unwrap() error { return e.Err }

// New returns a Redactor with the built-in patterns followed by extra, which are Go regular
// expressions (RE2 syntax). An extra pattern with capturing groups hides only what its groups
// match; one without hides the whole match. A pattern that does not compile, or that matches the
// empty string (it would hide nothing and fire everywhere), is a *PatternError; every such
// pattern is reported at once, joined with errors.Join.
func New(extra []string) (*Redactor, error) {
	r := &Redactor{rules: append([]rule(nil), builtins...)}
	var errs []error
	for i, p := range extra {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, &PatternError{Index: i, Pattern: p, Err: fmt.Errorf("empty pattern")})
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			errs = append(errs, &PatternError{Index: i, Pattern: p, Err: err})
			continue
		}
		if re.MatchString("") {
			errs = append(errs, &PatternError{Index: i, Pattern: p, Err: fmt.Errorf("matches the empty string")})
			continue
		}
		r.rules = append(r.rules, rule{name: fmt.Sprintf("pattern %d", i), re: re})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// Default is a Redactor with only the built-in patterns.
func Default() *Redactor {
	r, _ := New(nil)
	return r
}

// String returns s with every secret replaced by [REDACTED]. A nil Redactor applies the built-in
// patterns: forgetting to configure one must not let secrets through.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	rules := builtins
	if r != nil {
		rules = r.rules
	}
	var lower string
	for _, ru := range rules {
		if len(ru.hints) > 0 {
			if lower == "" {
				lower = strings.ToLower(s)
			}
			if !containsAny(lower, ru.hints) {
				continue
			}
		}
		if out, changed := ru.apply(s); changed {
			s, lower = out, ""
		}
	}
	return s
}

// apply masks every match of the rule in s.
func (ru rule) apply(s string) (string, bool) {
	matches := ru.re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		if len(m) == 2 { // no groups: hide the whole match
			b.WriteString(s[last:m[0]])
			b.WriteString(Mask)
			last = m[1]
			continue
		}
		for g := 2; g+1 < len(m); g += 2 {
			if m[g] < 0 || m[g] < last {
				continue // group did not take part, or overlaps one already masked
			}
			b.WriteString(s[last:m[g]])
			b.WriteString(Mask)
			last = m[g+1]
		}
	}
	b.WriteString(s[last:])
	return b.String(), true
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
