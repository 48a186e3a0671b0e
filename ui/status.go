package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// DefaultReadTimeout bounds each NATS read a page makes.
const DefaultReadTimeout = 2 * time.Second

// StatusSource is what the status page shows of the running daemon. Connection, Sinks, Limits
// and Endpoints are known locally; Streams asks NATS, under the context it is given.
type StatusSource interface {
	Connection() Connection
	// Streams describes each stream with its consumers. A stream or consumer that could not be
	// read carries its error, the others are still shown.
	Streams(ctx context.Context) []StreamStatus
	Sinks() []SinkStatus
	Limits() []Setting
	Endpoints() []Endpoint
}

// Connection is the daemon's NATS connection.
type Connection struct {
	Connected bool
	State     string // nats.Status: CONNECTED, RECONNECTING, …
	Embedded  bool
	URL       string // the server connected to, credentials redacted
	Server    string // its name
	Cluster   string // "" when the server is not in a cluster
	Reconnect uint64 // reconnects since start
}

// StreamStatus is one JetStream stream; Err says why the rest is unknown.
type StreamStatus struct {
	Name      string
	Err       string
	Messages  uint64
	Bytes     uint64
	MaxBytes  int64 // -1: unbounded
	MaxAge    time.Duration
	Replicas  int
	Leader    string
	Consumers []ConsumerStatus
}

// Size is the stream's bytes in binary units; MaxSize its bound; Age its max age.
func (s StreamStatus) Size() string { return byteSize(int64(s.Bytes)) }

func (s StreamStatus) MaxSize() string {
	if s.MaxBytes < 0 {
		return "unbounded"
	}
	return byteSize(s.MaxBytes)
}

func (s StreamStatus) Age() string {
	if s.MaxAge <= 0 {
		return "unbounded"
	}
	return s.MaxAge.String()
}

// byteSize is n in the largest binary unit it fills, e.g. "1.5 GiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// ConsumerStatus is one consumer's backlog: Pending not yet delivered, AckPending delivered and
// not yet acknowledged.
type ConsumerStatus struct {
	Name        string
	Err         string
	Pending     uint64
	AckPending  int
	Redelivered int
}

// SinkStatus is a configured sink; its backlog is its consumer's, found by Consumer.
type SinkStatus struct {
	Name, Type, Channel, Consumer string
	Backlog                       *ConsumerStatus // filled by the page
}

// Setting is one configuration value in force: its config key and its value as text.
type Setting struct{ Key, Value string }

// Endpoint is one HTTP endpoint of the daemon; Write marks those behind the write
// authentication.
type Endpoint struct {
	Method, Path, About string
	Write               bool
}

type statusData struct {
	Available  bool
	Conn       Connection
	Streams    []StreamStatus
	StreamsErr string
	Sinks      []SinkStatus
	Limits     []Setting
	Endpoints  []Endpoint
	Rules      *rulesSummary
	Timeout    time.Duration
}

func (u *UI) statusPage(w http.ResponseWriter, r *http.Request) {
	d := statusData{Timeout: u.opts.ReadTimeout, Rules: u.rulesSummary()}
	if s := u.opts.Status; s != nil {
		d.Available = true
		d.Conn, d.Sinks, d.Limits, d.Endpoints = s.Connection(), s.Sinks(), s.Limits(), s.Endpoints()
		var err error
		d.Streams, err = bounded(r.Context(), u.opts.ReadTimeout, s.Streams)
		if err != nil {
			d.StreamsErr = err.Error()
		}
		consumers := map[string]*ConsumerStatus{}
		for i := range d.Streams {
			for j := range d.Streams[i].Consumers {
				consumers[d.Streams[i].Consumers[j].Name] = &d.Streams[i].Consumers[j]
			}
		}
		for i := range d.Sinks {
			d.Sinks[i].Backlog = consumers[d.Sinks[i].Consumer]
		}
	}
	u.render(w, r, "status", "Status · triaged", d)
}

// bounded runs f under a context that ends after timeout, and gives up on it a little later
// should f not heed its context: one slow NATS call must not hang a page. The grace lets an f
// that does heed it return what it has, each unread part with its own error.
func bounded[T any](ctx context.Context, timeout time.Duration, f func(context.Context) T) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan T, 1)
	go func() { done <- f(ctx) }()
	grace := time.NewTimer(timeout + timeout/4 + 100*time.Millisecond)
	defer grace.Stop()
	select {
	case v := <-done:
		return v, nil
	case <-grace.C:
		var zero T
		return zero, fmt.Errorf("no answer within %s", timeout)
	}
}

// boundedErr is bounded for an f that fails as a whole.
func boundedErr[T any](ctx context.Context, timeout time.Duration, f func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	res, err := bounded(ctx, timeout, func(ctx context.Context) result {
		v, err := f(ctx)
		return result{v, err}
	})
	if err != nil {
		return res.v, err
	}
	if errors.Is(res.err, context.DeadlineExceeded) {
		return res.v, fmt.Errorf("no answer within %s: %w", timeout, res.err)
	}
	return res.v, res.err
}
