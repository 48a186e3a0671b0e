package deploy

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/broker"
)

// Defaults of the deploys stream and of correlation, the numbers.
const (
	DefaultMaxAge        = 7 * 24 * time.Hour
	DefaultWindow        = 2 * time.Hour
	DefaultSuspectWindow = 30 * time.Minute
	// DuplicateWindow is how long the stream remembers message ids: a CI job retrying a
	// deploy event within it stores the event once.
	DuplicateWindow = time.Hour
	// DefaultMaxBytes bounds the stream: 256 MiB is 30,000 events of the largest size.
	DefaultMaxBytes = 256 << 20
)

// SourceHeader marks messages the Recorder published, so the index can tell events recorded
// over HTTP from those a CI job published on NATS itself (source="http" or "nats" in metrics).
const SourceHeader = "Triaged-Deploy-Source"

// EnsureStream creates or updates the deploys stream: file storage, limits retention, events
// older than maxAge (DefaultMaxAge when 0) discarded, and the oldest discarded too once the
// stream holds maxBytes (DefaultMaxBytes when 0). It is idempotent, so every replica runs it at
// start.
func EnsureStream(ctx context.Context, js jetstream.JetStream, names broker.Names, maxAge time.Duration, replicas int, maxBytes int64) (jetstream.Stream, error) {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if replicas < 1 {
		replicas = 1
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        names.DeploysStream(),
		Description: "triaged: deploy events from CI/CD, correlated with incidents",
		Subjects:    []string{names.DeploySubjects()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		MaxAge:      maxAge,
		MaxBytes:    maxBytes,
		// JetStream refuses a duplicate window longer than the max age.
		Duplicates: min(DuplicateWindow, maxAge),
		Discard:    jetstream.DiscardOld,
		// Events are small; the cap keeps a misbehaving publisher from storing megabytes.
		MaxMsgSize: 4 * MaxEventSize,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w", names.DeploysStream(), err)
	}
	return s, nil
}

// Recorder stores deploy events on the deploys stream.
type Recorder struct {
	js    jetstream.JetStream
	names broker.Names
	skew  time.Duration
	now   func() time.Time
}

// RecorderOptions configures a Recorder.
type RecorderOptions struct {
	// MaxClockSkew is how far in the future an event's time may lie; default DefaultMaxClockSkew.
	// Give the index the same value, or it refuses what the Recorder stored.
	MaxClockSkew time.Duration
}

// NewRecorder returns a Recorder publishing on names' deploy subjects. The stream must exist
// (EnsureStream).
func NewRecorder(js jetstream.JetStream, names broker.Names, o RecorderOptions) *Recorder {
	return &Recorder{js: js, names: names, skew: cmp.Or(o.MaxClockSkew, DefaultMaxClockSkew), now: time.Now}
}

// Record validates e, fills its defaults (status succeeded, time now), publishes it on
// PREFIX.deploys.<service> and waits for JetStream's acknowledgement. It returns the event as
// stored and whether the stream already had it (a retry within the duplicate window). A
// *FieldError means the event is invalid (errors.Is ErrFuture when its time is beyond the clock
// skew); any other error, that it was not stored.
func (r *Recorder) Record(ctx context.Context, e Event) (stored Event, duplicate bool, err error) {
	if err := e.Validate(); err != nil {
		return Event{}, false, err
	}
	now := r.now()
	e = e.withDefaults(now)
	if err := checkNotFuture(&e, now, r.skew); err != nil {
		return Event{}, false, err
	}
	data, err := json.Marshal(&e)
	if err != nil {
		return Event{}, false, fmt.Errorf("encode deploy event: %w", err)
	}
	msg := &nats.Msg{Subject: r.names.DeploySubject(e.Service), Data: data, Header: nats.Header{}}
	msg.Header.Set(SourceHeader, SourceHTTP)
	ack, err := r.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.MsgID()), jetstream.WithExpectStream(r.names.DeploysStream()))
	if err != nil {
		return Event{}, false, fmt.Errorf("publish deploy event of %s on %s: %w", e.Service, msg.Subject, err)
	}
	return e, ack.Duplicate, nil
}

// Sources of deploy events, the values of the source label.
const (
	SourceHTTP = "http"
	SourceNATS = "nats"
)
