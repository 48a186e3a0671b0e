package deploy

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzDecodeEvent: a deploy event is refused with a *FieldError naming the field at fault (or,
// for the event as a whole, a reason with the JSON's place), or accepted; what is accepted is
// stored as JSON that the index reads back as the same event.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`{"service":"checkout"}`,
		`{"service":"checkout","environment":"prod","version":"v1.2.3","commit":"4f2a9c1","author":"alice","url":"https://ci.example/runs/123","time":"2026-11-26T14:40:00Z"}`,
		`{"service":"checkout","environment":"prod","version":"v1.2.3+build.5","commit":"abc123","author":"Alice Smith","url":"https://ci.example/run/123","time":"2026-11-26T15:04:05+01:00","status":"rolled_back"}`,
		`{"service":"checkout","time":""}`,
		`{"service":"checkout","time":null,"status":"started"}`,
		// Issue 9's hostile inputs: times outside the years RFC 3339 writes, deep nesting, bytes
		// that are not UTF-8, NUL bytes, bidi overrides, duplicate keys, huge fields.
		`{"service":"checkout","time":"0000-01-01T00:30:00+01:00"}`,
		`{"service":"checkout","time":"9999-12-31T23:30:00-01:00"}`,
		`{"service":"checkout","time":"0001-01-01T00:00:00Z"}`,
		`{"service":"checkout","time":"2026-11-26T15:04:05.999999999999Z"}`,
		`{"service":"checkout","version":` + strings.Repeat("[", 10001) + `}`,
		"{\"service\":\"checkout\",\"author\":\"\xff\xfe\",\"commit\":\"\xc3\"}",
		`{"service":"check\u0000out","author":"a\u0000b"}`,
		"{\"service\":\"checkout\",\"author\":\"a\x00b\"}",
		`{"service":"checkout","author":"\u202eevil\u2066","version":"v\u200f1"}`,
		`{"service":"checkout","service":"payments","se\u0072vice":"x"}`,
		`{"service":"checkout","url":"https://bot:s3cret@ci/1"}`,
		`{"service":"checkout","url":"https://ci.example/` + strings.Repeat("a", 4096) + `"}`,
		`{"service":"checkout","url":"http://[::1]:namedport"}`,
		`{"service":"checkout","Service":"x","TIME":"2026-11-26T14:40:00Z"}`,
		`{"service":"checkout"} {"service":"payments"}`,
		`{"service":"checkout"}]`,
		`[1,2]`, `null`, `""`, ` `, `{`,
	} {
		f.Add([]byte(s))
	}
	stored := time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEvent(data)
		if err != nil {
			checkFieldError(t, err)
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("DecodeEvent accepted what Validate refuses: %v", err)
		}
		s := e.withDefaults(stored)
		body, err := json.Marshal(&s)
		if err != nil {
			t.Fatalf("accepted, but cannot be stored: %v", err)
		}
		back, err := DecodeEvent(body)
		if err != nil {
			t.Fatalf("stored as %s, which the index refuses: %v", body, err)
		}
		back = back.withDefaults(stored.Add(time.Hour)) // the stored time is written: no default applies
		if back.key() != s.key() || back.Commit != s.Commit || back.Author != s.Author || back.URL != s.URL || back.Status != s.Status {
			t.Fatalf("stored %+v, read back as %+v", s, back)
		}
	})
}

// eventWide are the reasons that concern the event as a whole, not one field.
var eventWide = regexp.MustCompile(`^(empty body|want a deploy event JSON object|malformed JSON( at line \d+, column \d+)?: .)`)

func checkFieldError(t *testing.T, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("refused with %v (%T), want a *FieldError", err, err)
	}
	switch {
	case fe.Msg == "":
		t.Fatalf("refused without a reason: %+v", fe)
	case fe.Field == "" && !eventWide.MatchString(fe.Msg):
		t.Fatalf("refusal names no field: %q", fe.Msg)
	case fe.Field != "" && !strings.Contains(eventFields, fe.Field) && !strings.HasPrefix(fe.Msg, "unknown field"):
		t.Fatalf("refusal names a field an event has not: %q", err)
	}
	// The reason is the 400's body and a log line: printable, one line.
	if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return unicode.IsControl(r) || isBidi(r) }) {
		t.Fatalf("reason is not one printable line: %q", msg)
	}
}

func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}
