package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/fielderr"
)

// Deploy statuses. A deploy that failed or was rolled back changed the system too, so every
// status counts as a change when correlating.
const (
	StatusStarted    = "started"
	StatusSucceeded  = "succeeded"
	StatusFailed     = "failed"
	StatusRolledBack = "rolled_back"
)

// Statuses lists the valid statuses, in the order error messages name them.
var Statuses = []string{StatusStarted, StatusSucceeded, StatusFailed, StatusRolledBack}

// Field length limits. Events come from any CI job that can reach triaged, so every field is
// bounded before it is stored, indexed and printed in a report.
const (
	MaxNameLen   = 64   // service and environment
	MaxTextLen   = 128  // version, commit and author
	MaxURLLen    = 2048 // url
	MaxEventSize = 8 << 10
)

// Event is one deploy, as CI/CD reports it. Its JSON is the body of POST /api/v1/deploys and
// of a message on PREFIX.deploys.<service>.
type Event struct {
	Service     string `json:"service"`               // required; a NATS subject token
	Environment string `json:"environment,omitempty"` // e.g. prod; empty matches every environment
	Version     string `json:"version,omitempty"`
	Commit      string `json:"commit,omitempty"`
	Author      string `json:"author,omitempty"`
	URL         string `json:"url,omitempty"` // the CI run or release page
	// Time is when the deploy happened. When omitted, the time it was stored is used: the
	// HTTP handler's clock, or the stream timestamp of a message published directly.
	Time time.Time `json:"time,omitzero"`
	// Status defaults to succeeded.
	Status string `json:"status,omitempty"`

	// untimed is set when the sender gave no time: its retries then carry other stored times, and
	// must still be recognised as the same event.
	untimed bool
}

// FieldError is a deploy event refused because of one field: Field is the JSON name of the
// field, or "" for the event as a whole; its text is the one-line reason the HTTP handler answers
// with 400.
type FieldError = fielderr.Error

// validName is the shape of service and environment names: the service becomes a NATS subject
// token, so '.', '*', '>' and spaces must never reach it.
var validName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate checks every field of e and returns a *FieldError naming the first at fault. A zero
// Time and an empty Status are valid: they are filled with defaults when the event is stored.
func (e *Event) Validate() error {
	if err := checkName("service", e.Service, true); err != nil {
		return err
	}
	if err := checkName("environment", e.Environment, false); err != nil {
		return err
	}
	// Versions and commits end up in message ids and report lines: one token, no spaces.
	if err := checkText("version", e.Version, false); err != nil {
		return err
	}
	if err := checkText("commit", e.Commit, false); err != nil {
		return err
	}
	if err := checkText("author", e.Author, true); err != nil {
		return err
	}
	if err := checkURL(e.URL); err != nil {
		return err
	}
	if e.Status != "" && !slices.Contains(Statuses, e.Status) {
		return fielderr.Errorf("status", "%q is not one of %s", truncate(e.Status), strings.Join(Statuses, ", "))
	}
	return nil
}

func checkName(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return fielderr.Errorf(field, "required")
	case v == "":
		return nil
	case len(v) > MaxNameLen:
		return fielderr.Errorf(field, "longer than %d characters", MaxNameLen)
	case !validName.MatchString(v):
		return fielderr.Errorf(field, "%q is not a valid name (letters, digits, '_', '-')", v)
	}
	return nil
}

func checkText(field, v string, spaces bool) error {
	if len(v) > MaxTextLen {
		return fielderr.Errorf(field, "longer than %d characters", MaxTextLen)
	}
	if !utf8.ValidString(v) {
		return fielderr.Errorf(field, "not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) || (!spaces && unicode.IsSpace(r)) {
			if spaces {
				return fielderr.Errorf(field, "must not contain control characters")
			}
			return fielderr.Errorf(field, "%q must not contain spaces or control characters", v)
		}
	}
	return nil
}

func checkURL(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > MaxURLLen {
		return fielderr.Errorf("url", "longer than %d characters", MaxURLLen)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fielderr.Errorf("url", "must be http(s)")
	}
	// The URL is printed in every report of an incident: a token in it would leak to the
	// incident channel.
	if u.User != nil {
		return fielderr.Errorf("url", "must not contain credentials")
	}
	return nil
}

func truncate(s string) string {
	if len(s) <= 32 {
		return s
	}
	return s[:32] + "…"
}

// withDefaults returns e with the status and, when e has none, the time filled in. Times are
// kept in UTC so that the same instant written with two offsets is one deploy.
func (e Event) withDefaults(stored time.Time) Event {
	if e.Status == "" {
		e.Status = StatusSucceeded
	}
	if e.Time.IsZero() {
		e.Time = stored
	}
	e.Time = e.Time.UTC()
	return e
}

// DefaultMaxClockSkew is how far in the future an event's time may lie, compared with the time
// it is stored, unless configured otherwise. It absorbs clock drift between CI runners and
// triaged, and refuses the time-zone mistakes (and the deliberate future dates) that would
// otherwise sit in the index as its newest events, correlate with nothing, and outlast every
// genuine deploy of their service when the index has to drop events.
const DefaultMaxClockSkew = 5 * time.Minute

// ErrFuture marks an event refused because its time lies too far in the future: the reason
// label "future" of the refused metric. The error is also a *FieldError naming "time".
var ErrFuture = errors.New("deploy time in the future")

type futureError struct{ *FieldError }

func (e futureError) Unwrap() []error { return []error{e.FieldError, ErrFuture} }

func checkNotFuture(e *Event, stored time.Time, skew time.Duration) error {
	if skew <= 0 {
		skew = DefaultMaxClockSkew
	}
	if e.Time.After(stored.Add(skew)) {
		return futureError{fielderr.Errorf("time", "%s is more than %s in the future: check the clock or time zone",
			e.Time.Format(time.RFC3339), fmtDuration(skew))}
	}
	return nil
}

// key identifies a deploy: the same service, environment, version and time is one deploy, and a
// later event for it (succeeded after started) replaces the earlier.
func (e *Event) key() string {
	return e.Service + "\x00" + e.Environment + "\x00" + e.Version + "\x00" + e.Time.UTC().Format(time.RFC3339Nano)
}

// MsgID is the Nats-Msg-Id the Recorder publishes e with, so a CI job that retries stores the
// event once within the stream's duplicate window. The status is part of it so that a
// deploy's "started" and "succeeded" events are both kept. Call it on a stored event
// (status and time filled in).
func (e *Event) MsgID() string {
	when := e.Time.UTC().Format(time.RFC3339Nano)
	if e.untimed {
		// A CI job that retries an event without a time would otherwise store it once per try.
		when = "untimed:" + e.Commit
	}
	return "deploy:" + e.Service + ":" + e.Environment + ":" + e.Version + ":" + when + ":" + e.Status
}

// wireEvent is Event as it arrives, with the time as text so that a bad time can be reported
// as the field at fault rather than as encoding/json's parse error.
type wireEvent struct {
	Service     string  `json:"service"`
	Environment string  `json:"environment"`
	Version     string  `json:"version"`
	Commit      string  `json:"commit"`
	Author      string  `json:"author"`
	URL         string  `json:"url"`
	Time        *string `json:"time"`
	Status      string  `json:"status"`
}

var eventFields = "service, environment, version, commit, author, url, time, status"

// DecodeEvent parses one deploy event strictly: unknown fields, wrong types, trailing data and
// a time that is not RFC 3339 are refused, and the result is validated. Every error is a
// *FieldError naming the field at fault.
func DecodeEvent(data []byte) (Event, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Event{}, fielderr.Errorf("", "empty body: want a deploy event JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		return Event{}, jsonError(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Event{}, fielderr.Errorf("", "malformed JSON: data after the event object")
	}
	e := Event{Service: w.Service, Environment: w.Environment, Version: w.Version, Commit: w.Commit,
		Author: w.Author, URL: w.URL, Status: w.Status}
	if w.Time != nil && *w.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, *w.Time)
		if err != nil {
			return Event{}, fielderr.Errorf("time", "%q is not RFC 3339 (e.g. 2026-11-26T15:04:05Z)", truncate(*w.Time))
		}
		if y := t.UTC().Year(); y < 1 || y > 9999 {
			// Such a time cannot be written back as RFC 3339: the event could never be stored.
			return Event{}, fielderr.Errorf("time", "%q is outside the years 0001 to 9999 in UTC", truncate(*w.Time))
		}
		e.Time = t
	} else {
		e.untimed = true
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// jsonError turns encoding/json's errors into the field at fault, or a position for syntax
// errors.
func jsonError(data []byte, err error) error {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ) && typ.Field != "":
		return fielderr.Errorf(typ.Field, "want a %s, got a JSON %s", typ.Type, typ.Value)
	case errors.As(err, &typ):
		return fielderr.Errorf("", "want a deploy event JSON object, got a JSON %s", typ.Value)
	case errors.As(err, &syn):
		return fielderr.Errorf("", "malformed JSON at %s", triaged.DescribeJSONError(data, err))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fielderr.Errorf("", "malformed JSON: unexpected end of input")
	}
	// encoding/json has no typed error for an unknown field; its text is stable since Go 1.10.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name == `""` { // no field to name the error by: the reason says it
			return fielderr.Errorf("", "malformed JSON: unknown field \"\" (known: %s)", eventFields)
		}
		return fielderr.Errorf(strings.Trim(name, `"`), "unknown field (known: %s)", eventFields)
	}
	return fielderr.Errorf("", "malformed JSON: %v", err)
}

// fmtDuration prints 2h0m0s as 2h and 1h30m0s as 1h30m: how people write windows.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
