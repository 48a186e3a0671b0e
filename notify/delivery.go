package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/triaged/triaged"
)

// Delivery is one report on its way to one sink: the report, the channel routing chose for it,
// and what the sink recorded for the report's incident on earlier deliveries.
type Delivery struct {
	Report *triaged.Report
	// Channel is where routing sends the report ("" for the sink's default channel); sinks
	// without channels ignore it.
	Channel string
	// Thread is what this sink returned for the incident's earlier reports: where its root
	// message is. Nil for the incident's first report in this sink.
	Thread *Thread
	// MaybePosted says that an earlier attempt at this very report may have reached the
	// service (triaged stopped after sending and before recording the outcome): a sink that
	// can tell looks for the message before posting it again.
	MaybePosted bool
	// Save records th as the incident's thread in this sink at once, before Deliver returns:
	// a sink that creates something it must never create twice (an incident channel) saves it
	// before announcing it, so a crash or another replica finds it. Nil: nothing to save to
	// (the sink then goes on without).
	Save func(ctx context.Context, th *Thread) error
}

// Thread is what a chat sink keeps of one incident so that any replica, after any restart, can
// reply to the incident's root message and edit it: the outbox stores it per sink and incident
// and hands it back with each later report.
type Thread struct {
	Channel string `json:"channel"`
	// RootID names the root message: Slack's ts, Mattermost's post id.
	RootID string `json:"root_id"`
	// RootURL links to the root message, when the service gives one (for the incidents API and
	// the web UI).
	RootURL string `json:"root_url,omitempty"`
	// Incident is the incident's own channel, when the sink opened one (incident_channel).
	// A Thread may hold it before the root message exists (RootID ""): the channel was
	// recorded before the team channel was told of it.
	Incident *IncidentChannel `json:"incident_channel,omitempty"`
	// Posted is the report whose reply in the team channel's thread is posted: a retry of that
	// report after a later step failed (the incident channel's) does not post it again.
	Posted string `json:"posted,omitempty"`
}

// settled is th once its report is delivered whole: Posted only matters to a retry.
func (th *Thread) settled() *Thread {
	if th == nil || th.Posted == "" {
		return th
	}
	cp := *th
	cp.Posted = ""
	return &cp
}

// RetryAfterError is a failure the service asked to be retried no sooner than After (HTTP 429
// or 503 with Retry-After): the outbox waits at least that long.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// PermanentError is a failure no retry can mend (the service refused the payload, the channel
// does not exist, the token is revoked): the outbox dead-letters the report at once, with this
// reason, and goes on with the incident's later reports.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or an error it wraps, is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfter returns the delay the service asked for, if err carries one.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryAfterError
	if errors.As(err, &r) {
		return r.After, true
	}
	return 0, false
}
