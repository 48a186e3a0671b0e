package deploy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeEvent(t *testing.T) {
	long := strings.Repeat("x", MaxTextLen+1)
	for _, tc := range []struct {
		name, body string
		field      string // field at fault; "-" for none (valid)
		want       string // substring of the error
	}{
		{"minimal", `{"service":"checkout"}`, "-", ""},
		{"full", `{"service":"checkout","environment":"prod","version":"v1.2.3+build.5","commit":"abc123","author":"Alice Smith","url":"https://ci.example/run/123","time":"2026-11-26T15:04:05+01:00","status":"rolled_back"}`, "-", ""},
		{"empty time is omitted", `{"service":"checkout","time":""}`, "-", ""},
		{"empty body", ``, "", "empty body"},
		{"not an object", `[1,2]`, "", "want a deploy event JSON object, got a JSON array"},
		{"syntax", "{\n\"service\": \"checkout\",,}", "", "malformed JSON at line 2"},
		{"truncated", `{"service":"checkout"`, "", "unexpected end of input"},
		{"trailing data", `{"service":"checkout"} {"service":"payments"}`, "", "data after the event object"},
		{"unknown field", `{"service":"checkout","team":"shop"}`, "team", "unknown field"},
		{"unknown field without a name", `{"service":"checkout","":"shop"}`, "", `unknown field "" (known: service, environment`},
		{"wrong type", `{"service":42}`, "service", "want a string, got a JSON number"},
		{"service missing", `{"version":"v1"}`, "service", "required"},
		{"service with dot", `{"service":"a.b"}`, "service", `"a.b" is not a valid name (letters, digits, '_', '-')`},
		{"service wildcard", `{"service":">"}`, "service", "not a valid name"},
		{"service too long", `{"service":"` + strings.Repeat("s", MaxNameLen+1) + `"}`, "service", "longer than 64 characters"},
		{"environment with space", `{"service":"checkout","environment":"pr od"}`, "environment", "not a valid name"},
		{"version with space", `{"service":"checkout","version":"v1 2"}`, "version", "must not contain spaces"},
		{"version too long", `{"service":"checkout","version":"` + long + `"}`, "version", "longer than 128"},
		{"commit with newline", `{"service":"checkout","commit":"abc\n123"}`, "commit", "must not contain spaces or control characters"},
		{"author control char", `{"service":"checkout","author":"al\u0007ice"}`, "author", "control characters"},
		// encoding/json turns invalid UTF-8 into U+FFFD, so it never reaches Validate.
		{"author not utf-8", "{\"service\":\"checkout\",\"author\":\"\xff\"}", "-", ""},
		{"time not RFC 3339", `{"service":"checkout","time":"yesterday"}`, "time", "not RFC 3339"},
		{"time without zone", `{"service":"checkout","time":"2026-11-26T15:04:05"}`, "time", "not RFC 3339"},
		{"time a number", `{"service":"checkout","time":1732633445}`, "time", "want a string"},
		{"url ftp", `{"service":"checkout","url":"ftp://ci/1"}`, "url", "must be http(s)"},
		{"url relative", `{"service":"checkout","url":"/runs/1"}`, "url", "must be http(s)"},
		{"url javascript", `{"service":"checkout","url":"javascript:alert(1)"}`, "url", "must be http(s)"},
		{"url credentials", `{"service":"checkout","url":"https://bot:s3cret@ci/1"}`, "url", "must not contain credentials"},
		{"url too long", `{"service":"checkout","url":"https://ci/` + strings.Repeat("a", MaxURLLen) + `"}`, "url", "longer than 2048"},
		{"status unknown", `{"service":"checkout","status":"x"}`, "status", `"x" is not one of started, succeeded, failed, rolled_back`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(tc.body))
			if tc.field == "-" {
				if err != nil {
					t.Fatalf("DecodeEvent: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want a *FieldError", err, err)
			}
			if fe.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q (field %q), want field %q and text containing %q", err, fe.Field, tc.field, tc.want)
			}
			if tc.field != "" && !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Errorf("err = %q does not start with the field name", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q is not one line", err)
			}
		})
	}
}

func TestDefaultsAndMsgID(t *testing.T) {
	stored := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	e := Event{Service: "checkout", Environment: "prod", Version: "v1"}.withDefaults(stored)
	if e.Status != StatusSucceeded || !e.Time.Equal(stored) {
		t.Errorf("defaults: status %q time %v", e.Status, e.Time)
	}
	if got, want := e.MsgID(), "deploy:checkout:prod:v1:2026-11-26T15:00:00Z:succeeded"; got != want {
		t.Errorf("MsgID = %q, want %q", got, want)
	}
	// The same instant written with another offset is the same deploy.
	berlin := time.FixedZone("CET", 3600)
	other := Event{Service: "checkout", Environment: "prod", Version: "v1", Time: stored.In(berlin)}.withDefaults(time.Now())
	if other.MsgID() != e.MsgID() || other.key() != e.key() {
		t.Errorf("MsgID %q / key differ for the same instant in another zone", other.MsgID())
	}
	started := e
	started.Status = StatusStarted
	if started.MsgID() == e.MsgID() {
		t.Error("started and succeeded events of one deploy share a message id: one would be dropped")
	}
	if started.key() != e.key() {
		t.Error("started and succeeded events of one deploy have different index keys")
	}
}

func TestFmtDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Hour: "2h", 30 * time.Minute: "30m", 90 * time.Minute: "1h30m", 45 * time.Second: "45s",
		15 * time.Minute: "15m", 24 * time.Hour: "24h", time.Hour + time.Second: "1h0m1s",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
