package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is one message on the dead-letters stream, as listings show it.
type DeadLetter struct {
	// Seq is its sequence on the dead-letters stream: the id replay takes.
	Seq uint64 `json:"id"`
	// Time is when it was set aside.
	Time time.Time `json:"time"`
	// Origin is the subject its payload came from; OriginStream and Consumer the stream and the
	// consumer that gave up on it.
	Origin       string `json:"origin_subject"`
	OriginStream string `json:"origin_stream,omitempty"`
	Consumer     string `json:"consumer,omitempty"`
	Deliveries   int    `json:"deliveries,omitempty"`
	Reason       string `json:"reason"`
	Error        string `json:"error,omitempty"`
	Size         int    `json:"size"`
}

func deadLetterOf(m *jetstream.RawStreamMsg) DeadLetter {
	d := DeadLetter{
		Seq: m.Sequence, Time: m.Time.UTC(), Size: len(m.Data),
		Origin: m.Header.Get(HeaderOriginSubject), OriginStream: m.Header.Get(HeaderOriginStream),
		Consumer: m.Header.Get(HeaderOriginConsumer), Reason: m.Header.Get(HeaderReason), Error: m.Header.Get(HeaderError),
	}
	d.Deliveries, _ = strconv.Atoi(m.Header.Get(HeaderDeliveries))
	return d
}

// DeadLetterList is a page of the dead letters, newest first.
type DeadLetterList struct {
	// Total is how many dead letters the stream holds; more than len(Letters) when the listing
	// stopped at its limit.
	Total   uint64       `json:"total"`
	Letters []DeadLetter `json:"dead_letters"`
}

// ErrNoDeadLetter is a dead letter that is not on the stream: replayed already, or aged out.
var ErrNoDeadLetter = errors.New("no such dead letter (replayed already, or aged out)")

// ErrForeignOrigin is a dead letter whose origin subject is not one of the daemon's own.
var ErrForeignOrigin = errors.New("origin subject is not one of this deployment's")

// DeadLetterStore reads and replays the dead letters of one deployment.
type DeadLetterStore struct {
	js    jetstream.JetStream
	names Names
}

// NewDeadLetterStore returns the store of names' dead-letters stream.
func NewDeadLetterStore(js jetstream.JetStream, names Names) *DeadLetterStore {
	return &DeadLetterStore{js: js, names: names}
}

// List returns the newest dead letters, at most limit of them. It walks the stream back from
// its last sequence; replayed letters leave holes, so it looks at no more than 4×limit+64
// sequences: a stream of mostly holes gives a short page rather than a long wait.
func (s *DeadLetterStore) List(ctx context.Context, limit int) (DeadLetterList, error) {
	stream, err := s.js.Stream(ctx, s.names.DeadLettersStream())
	if err != nil {
		return DeadLetterList{}, fmt.Errorf("stream %s: %w", s.names.DeadLettersStream(), err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return DeadLetterList{}, fmt.Errorf("stream %s: %w", s.names.DeadLettersStream(), err)
	}
	st := info.State
	out := DeadLetterList{Letters: []DeadLetter{}, Total: st.Msgs}
	probes := 4*limit + 64
	for seq := st.LastSeq; seq >= st.FirstSeq && seq > 0 && len(out.Letters) < limit && uint64(len(out.Letters)) < st.Msgs && probes > 0; seq-- {
		probes--
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("dead letter %d: %w", seq, err)
		}
		out.Letters = append(out.Letters, deadLetterOf(m))
	}
	return out, nil
}

// Replayed is what a replay did.
type Replayed struct {
	DeadLetter DeadLetter `json:"dead_letter"`
	// Stream and Sequence are where the payload was published again.
	Stream   string `json:"stream"`
	Sequence uint64 `json:"sequence"`
}

// Replay publishes dead letter seq's payload on the subject it came from, where its consumer
// takes it up afresh, and then deletes the dead letter. A letter that names a subject outside
// the deployment's prefix (anyone allowed to publish on the dead-letters subjects could name
// any) is refused with ErrForeignOrigin; one not on the stream is ErrNoDeadLetter.
func (s *DeadLetterStore) Replay(ctx context.Context, seq uint64) (Replayed, error) {
	stream, err := s.js.Stream(ctx, s.names.DeadLettersStream())
	if err != nil {
		return Replayed{}, fmt.Errorf("stream %s: %w", s.names.DeadLettersStream(), err)
	}
	m, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Replayed{}, &kindError{fmt.Sprintf("no dead letter %d in %s (replayed already, or aged out)", seq, s.names.DeadLettersStream()), ErrNoDeadLetter}
	}
	if err != nil {
		return Replayed{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	d := deadLetterOf(m)
	prefix := s.names.Prefix() + "."
	if !strings.HasPrefix(d.Origin, prefix) || strings.HasPrefix(d.Origin, prefix+"deadletters.") {
		return Replayed{DeadLetter: d}, &kindError{fmt.Sprintf("dead letter %d names origin subject %q, which is not one of %s's: not replayed", seq, d.Origin, s.names.Prefix()), ErrForeignOrigin}
	}
	ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: d.Origin, Data: m.Data})
	if err != nil {
		return Replayed{DeadLetter: d}, fmt.Errorf("publish dead letter %d on %s: %w (the dead letter is kept)", seq, d.Origin, err)
	}
	r := Replayed{DeadLetter: d, Stream: ack.Stream, Sequence: ack.Sequence}
	if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return r, fmt.Errorf("dead letter %d replayed as %s sequence %d, but not deleted: %w", seq, ack.Stream, ack.Sequence, err)
	}
	return r, nil
}

// kindError is an error with its own text that matches a sentinel under errors.Is.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
