package redact

import (
	"errors"
	"strings"
	"testing"
)

func TestBuiltins(t *testing.T) {
	r, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, in, want string
	}{
		// Bearer tokens and authorization headers.
		{"auth header bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9abc", "Authorization: Bearer [REDACTED]"},
		{"auth header short token", "authorization: bearer xxx", "authorization: bearer [REDACTED]"},
		{"auth header basic", "Authorization: Basic dXNlcjpodW50ZXIy", "Authorization: Basic [REDACTED]"},
		{"auth header json", `{"Authorization":"Bearer abcdefgh12345"}`, `{"Authorization":"Bearer [REDACTED]"}`},
		{"proxy auth", "Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authorization: Basic [REDACTED]"},
		{"bearer in prose", "retrying with bearer sk-live-1234567890abcdef", "retrying with bearer [REDACTED]"},
		{"bearer lower", "curl -H 'bearer abcdef0123456789'", "curl -H 'bearer [REDACTED]'"},

		// Passwords in URLs.
		{"postgres url", "dial postgres://app:s3cr3t@db.internal:5432/app failed", "dial postgres://app:[REDACTED]@db.internal:5432/app failed"},
		{"redis url no user", "redis://:hunter2@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"},
		{"amqp url", `"amqp://guest:gu%40st@rabbit/"`, `"amqp://guest:[REDACTED]@rabbit/"`},
		{"https basic", "GET https://bob:pa55@example.internal/x", "GET https://bob:[REDACTED]@example.internal/x"},

		// key=value pairs, every key and separator.
		{"password=", "login failed password=hunter2 user=bob", "login failed password=[REDACTED] user=bob"},
		{"passwd=", "passwd=abc123", "passwd=[REDACTED]"},
		{"pwd=", "PWD=letmein", "PWD=[REDACTED]"},
		{"token=", "token=abc.def.ghi", "token=[REDACTED]"},
		{"secret=", "SECRET=topsecret;next", "SECRET=[REDACTED];next"},
		{"api_key=", "api_key=AIzaSyD-1234", "api_key=[REDACTED]"},
		{"apikey=", "apikey=0123456789", "apikey=[REDACTED]"},
		{"api-key header", "X-Api-Key: 0123456789abcdef", "X-Api-Key: [REDACTED]"},
		{"access_key=", "access_key=zzz", "access_key=[REDACTED]"},
		{"prefixed key", "DB_PASSWORD=hunter2 DB_USER=app", "DB_PASSWORD=[REDACTED] DB_USER=app"},
		{"dotted key", "spring.datasource.password=hunter2", "spring.datasource.password=[REDACTED]"},
		{"access_token query", "GET /cb?code=1&access_token=abcd&state=2", "GET /cb?code=1&access_token=[REDACTED]&state=2"},
		{"client_secret", "client_secret: abcdef", "client_secret: [REDACTED]"},
		{"colon no space", "password:hunter2", "password:[REDACTED]"},
		{"spaces around =", "password = hunter2", "password = [REDACTED]"},
		{"case insensitive", "PassWord=Hunter2", "PassWord=[REDACTED]"},
		{"json", `{"user":"bob","password":"hunter 2","ok":true}`, `{"user":"bob","password":"[REDACTED]","ok":true}`},
		{"json spaced", `{"password": "x", "token": "y"}`, `{"password": "[REDACTED]", "token": "[REDACTED]"}`},
		{"json escaped quote", `{"password":"a\"b\"c","n":1}`, `{"password":"[REDACTED]","n":1}`},
		{"single quoted", `{'secret': 'abc def'}`, `{'secret': '[REDACTED]'}`},
		{"logfmt", `level=error msg="auth failed" token=abc123 user=bob`, `level=error msg="auth failed" token=[REDACTED] user=bob`},
		{"two on a line", "password=a secret=b", "password=[REDACTED] secret=[REDACTED]"},

		// AWS.
		{"aws key id", "using AKIAIOSFODNN7EXAMPLE for s3", "using AKIA[REDACTED] for s3"},
		{"aws session key id", "ASIAXXXXXXXXXXXXXXXX", "ASIA[REDACTED]"},
		{"aws secret", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key=[REDACTED]"},
		{"aws secret env", "AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY: [REDACTED]"},
		{"aws secret ini", `aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"`, `aws_secret_access_key = "[REDACTED]"`},

		// Private keys.
		{
			"private key block",
			"before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\nabcdefghijklmnop\n-----END RSA PRIVATE KEY-----\nafter",
			"before\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nafter",
		},
		{
			"openssh key",
			"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----",
			"-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]-----END OPENSSH PRIVATE KEY-----",
		},
		{
			"key block cut off",
			"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
			"-----BEGIN PRIVATE KEY-----[REDACTED]",
		},
		{
			"key tail without begin",
			"x\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nABCDEFGHIJKLMNOPQRSTUVWXYZ012345\n-----END PRIVATE KEY-----\ny",
			"x\n[REDACTED]-----END PRIVATE KEY-----\ny",
		},

		// Other well-known token formats.
		{"github token", "push with ghp_abcdefghijklmnopqrstuvwxyz0123456789", "push with ghp_[REDACTED]"},
		{"slack token", "xoxb-123456789012-abcdefABCDEF", "xoxb-[REDACTED]"},
		{"jwt", "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end", "jwt eyJhbGciOiJIUzI1NiJ9.[REDACTED] end"},
		{"cookie", "Cookie: session=abc123; theme=dark", "Cookie: [REDACTED]"},
		{"set-cookie", "Set-Cookie: sid=xyz; HttpOnly", "Set-Cookie: [REDACTED]"},

		// Chat webhooks, cloud and package-registry tokens, command lines.
		{"slack app token", "xapp-1-A0123456789-1234567890123-abcdef", "xapp-[REDACTED]"},
		{"slack webhook", "post to https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX failed", "post to https://hooks.slack.com/services/[REDACTED] failed"},
		{"discord webhook", "https://discord.com/api/webhooks/123456789/abcDEF-ghi_jkl", "https://discord.com/api/webhooks/[REDACTED]"},
		{"gitlab token", "using glpat-abcdefghij1234567890", "using glpat-[REDACTED]"},
		{"npm token", "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789", "//registry.npmjs.org/:_authToken=[REDACTED]"},
		{"npm token bare", "npm_abcdefghijklmnopqrstuvwxyz0123456789 leaked", "npm_[REDACTED] leaked"},
		{"sendgrid", "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "SG.[REDACTED]"},
		{"twilio key", "SK0123456789abcdef0123456789abcdef used", "SK[REDACTED] used"},
		{"google api key", "key AIzaSyA-abcdefghijklmnopqrstuvwxyz01234 ok", "key AIza[REDACTED] ok"},
		{"google oauth", "ya29.a0AfH6SMBabcdefghijklmnop", "ya29.[REDACTED]"},
		{"stripe live", "charge with sk_live_abcdefghijklmnop1234", "charge with sk_live_[REDACTED]"},
		{"azure account key", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc+def/ghi==;EndpointSuffix=core", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=[REDACTED];EndpointSuffix=core"},
		{"azure sas", "GET https://x.blob.core.windows.net/c/b?sv=2020&sig=abc%2Bdef&se=2026 403", "GET https://x.blob.core.windows.net/c/b?sv=2020&sig=[REDACTED]&se=2026 403"},
		{
			"pgp private key",
			"-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0abcdefg\n-----END PGP PRIVATE KEY BLOCK-----",
			"-----BEGIN PGP PRIVATE KEY BLOCK-----[REDACTED]-----END PGP PRIVATE KEY BLOCK-----",
		},
		{"--password arg", "exec: pg_dump --password hunter2 --host db", "exec: pg_dump --password [REDACTED] --host db"},
		{"--password= arg", "cmd --password=hunter2", "cmd --password=[REDACTED]"},
		{"--passphrase arg", "gpg --batch --passphrase s3cret --decrypt", "gpg --batch --passphrase [REDACTED] --decrypt"},
		{"mysql -p", "mysql -u root -phunter2 -h db", "mysql -u root -p[REDACTED] -h db"},
		{"passphrase key", "passphrase: correct horse", "passphrase: [REDACTED] horse"},
		{"url password with @", "dial postgres://app:p@ss@db.internal:5432/app", "dial postgres://app:[REDACTED]@db.internal:5432/app"},

		// Second pass over the same classes: the shapes they take in real command lines and logs.
		{"twilio account sid", "twilio AC0123456789abcdef0123456789abcdef failed", "twilio AC[REDACTED] failed"},
		{"stripe restricted live", "rk_live_abcdefghijklmnop1234abcd", "rk_live_[REDACTED]"},
		{"stripe test key", "sk_test_abcdefghijklmnop1234", "sk_test_[REDACTED]"},
		{"stripe webhook secret", "whsec_abcdefghijklmnopqrstuvwx", "whsec_[REDACTED]"},
		{"google oauth with dots", "ya29.c.b0AXv0zTabcdefghijklmnopqrstuvwxyz", "ya29.[REDACTED]"},
		{"--db-password arg", "migrate --db-password hunter2 --host x", "migrate --db-password [REDACTED] --host x"},
		{"--client-secret arg", "oauth2-proxy --client-secret s3cr3t", "oauth2-proxy --client-secret [REDACTED]"},
		{"--api-key arg", "datadog-agent --api-key abc123 run", "datadog-agent --api-key [REDACTED] run"},
		{"--access-token arg", "cli --access-token=abc123", "cli --access-token=[REDACTED]"},
		{"--passphrase quoted", "gpg --passphrase 'two words' -d", "gpg --passphrase '[REDACTED]' -d"},
		{"--password double quoted", `pg_dump --password "two words" db`, `pg_dump --password "[REDACTED]" db`},
		{"sshpass -p", "sshpass -phunter2 ssh host", "sshpass -p[REDACTED] ssh host"},
		{"redis-cli -a", "redis-cli -h cache -a hunter2 ping", "redis-cli -h cache -a [REDACTED] ping"},
		{"openssl -passin", "openssl rsa -passin pass:hunter2 -in k", "openssl rsa -passin pass:[REDACTED] -in k"},
		{"curl -u", "curl -sS -u admin:hunter2 https://x/", "curl -sS -u admin:[REDACTED] https://x/"},
		{"url password with @ and :", "https://user:p@ss:w@rd@host/x", "https://user:[REDACTED]@host/x"},
		{"jwt short signature", "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "id eyJhbGciOiJIUzI1NiJ9.[REDACTED]"},

		// Must NOT be redacted.
		{"docker port", "docker run -p8080:80 nginx", "docker run -p8080:80 nginx"},
		{"flag without value", "restarted with --password-file /etc/x", "restarted with --password-file /etc/x"},
		{"token file flag", "--token-file /var/run/token --max-tokens 5 --secret-name db", "--token-file /var/run/token --max-tokens 5 --secret-name db"},
		{"flag followed by a flag", "--password --verbose", "--password --verbose"},
		{"bypass flag", "--bypass yes", "--bypass yes"},
		{"mysql prompt", "mysql -u root -p -h db", "mysql -u root -p -h db"},
		{"curl without password", "curl -u admin https://x/", "curl -u admin https://x/"},
		{"hex id", "request ACCEPTED id=0123456789abcdef0123456789abcdef", "request ACCEPTED id=0123456789abcdef0123456789abcdef"},
		{"plain error", "ERROR connection refused to 10.0.0.5:5432", "ERROR connection refused to 10.0.0.5:5432"},
		{"url with port no userinfo", "GET http://checkout:8080/healthz?x=1 503", "GET http://checkout:8080/healthz?x=1 503"},
		{"url with @ in path", "GET http://host:8080/users/@bob", "GET http://host:8080/users/@bob"},
		{"email", "sent to bob@example.com", "sent to bob@example.com"},
		{"password mentioned", "invalid password for user bob", "invalid password for user bob"},
		{"token expired", "token expired at 12:00", "token expired at 12:00"},
		{"password_expired key", "password_expired=true", "password_expired=true"},
		{"max_tokens key", "max_tokens=4096", "max_tokens=4096"},
		{"empty value", "password= user=bob", "password= user=bob"},
		{"value on next line", "password:\nnext line", "password:\nnext line"},
		{"header value on next line", "Authorization:\nnext", "Authorization:\nnext"},
		{"bearer prose", "the bearer of bad news", "the bearer of bad news"},
		{"akia too short", "AKIA1234", "AKIA1234"},
		{"akia in a word", "XAKIAIOSFODNN7EXAMPLEX", "XAKIAIOSFODNN7EXAMPLEX"},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"},
		{"stack trace", "panic: runtime error: index out of range [3] with length 3", "panic: runtime error: index out of range [3] with length 3"},
		{"already redacted", "password=[REDACTED]", "password=[REDACTED]"},
		{"empty", "", ""},
		{"utf8", "échec: délai dépassé", "échec: délai dépassé"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := r.String(c.in); got != c.want {
				t.Errorf("String(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
			// Redacting twice changes nothing: a report that passes two redactors reads the same.
			if got := r.String(r.String(c.in)); got != c.want {
				t.Errorf("String twice = %q, want %q", got, c.want)
			}
		})
	}
}

func TestNilRedactorUsesBuiltins(t *testing.T) {
	var r *Redactor
	if got := r.String("password=hunter2"); got != "password=[REDACTED]" {
		t.Errorf("nil Redactor: got %q", got)
	}
	if got := Default().String("token=x"); got != "token=[REDACTED]" {
		t.Errorf("Default: got %q", got)
	}
}

func TestExtraPatterns(t *testing.T) {
	r, err := New([]string{
		`(?i)session_id=(\w+)`,     // a group: only the value goes
		`\bCUST-[0-9]{6}\b`,        // no group: the whole match goes
		`card=(\d{4})\d{8}(\d{4})`, // two groups: both go, the middle stays
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{"Session_ID=abc123 ok", "Session_ID=[REDACTED] ok"},
		{"customer CUST-123456 failed", "customer [REDACTED] failed"},
		{"card=4111111111111111", "card=[REDACTED]11111111[REDACTED]"},
		{"CUST-12345 short", "CUST-12345 short"},
		{"password=x session_id=y", "password=[REDACTED] session_id=[REDACTED]"},
	}
	for _, c := range cases {
		if got := r.String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		patterns []string
		index    int
		msg      string
	}{
		{[]string{`ok`, `(`}, 1, `pattern 1 "(": error parsing regexp: missing closing ): ` + "`(`"},
		{[]string{`[z-a]`}, 0, `pattern 0 "[z-a]": error parsing regexp: invalid character class range`},
		{[]string{`a`, `b`, ``}, 2, `pattern 2 "": empty pattern`},
		{[]string{`x*`}, 0, `pattern 0 "x*": matches the empty string`},
		// Every bad pattern is reported, not only the first.
		{[]string{`(`, `ok`, `x*`}, 0, "pattern 0 \"(\": error parsing regexp: missing closing ): `(`\npattern 2 \"x*\": matches the empty string"},
	}
	for _, c := range cases {
		r, err := New(c.patterns)
		if r != nil || err == nil {
			t.Fatalf("New(%q) = %v, %v; want an error", c.patterns, r, err)
		}
		var pe *PatternError
		if !errors.As(err, &pe) || pe.Index != c.index {
			t.Errorf("New(%q): error %v is not a PatternError at index %d", c.patterns, err, c.index)
		}
		if !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("New(%q) error\n got %q\nwant prefix %q", c.patterns, err, c.msg)
		}
	}
}

// TestHintsDoNotHideMatches guards the hint shortcut: a hint that is not in every possible match
// would let a secret through, so each case above must also redact with hints ignored.
func TestHintsDoNotHideMatches(t *testing.T) {
	for _, ru := range builtins {
		for _, h := range ru.hints {
			if h != strings.ToLower(h) {
				t.Errorf("rule %q: hint %q is not lower case", ru.name, h)
			}
		}
	}
	noHints := &Redactor{}
	for _, ru := range builtins {
		ru.hints = nil
		noHints.rules = append(noHints.rules, ru)
	}
	r := Default()
	for _, in := range []string{
		"Authorization: Bearer abcdefgh", "postgres://a:b@c", "AKIAIOSFODNN7EXAMPLE", "ApiKey=1",
		"x-auth-token: abc", "CREDENTIALS=abc", "ghs_abcdefghijklmnopqrstuvwxyz", "-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----",
		"--DB-PASSWORD x", "--Client-Secret 'a b'", "SSHPASS -px", "Redis-Cli -a x", "-passout pass:x", "CURL -u a:b",
		"AC0123456789abcdef0123456789abcdef", "WHSEC_abcdefghijklmnopqrstuvwx", "ya29.c.abcdefghijklmnopqrstuvwxyz",
	} {
		if a, b := r.String(in), noHints.String(in); a != b {
			t.Errorf("%q: with hints %q, without %q", in, a, b)
		}
	}
}

var sink string

func BenchmarkString(b *testing.B) {
	r := Default()
	lines := strings.Repeat("2024-05-01T10:00:00Z level=error msg=\"upstream timeout\" path=/api/checkout status=504 duration=30.01s\n", 100)
	b.SetBytes(int64(len(lines)))
	for b.Loop() {
		sink = r.String(lines)
	}
}

func BenchmarkStringWithSecrets(b *testing.B) {
	r := Default()
	lines := strings.Repeat("level=error msg=\"db auth failed\" dsn=postgres://app:hunter2@db:5432/app password=hunter2 token=abc\n", 100)
	b.SetBytes(int64(len(lines)))
	for b.Loop() {
		sink = r.String(lines)
	}
}
