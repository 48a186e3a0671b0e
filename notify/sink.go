package notify

import (
	"context"
)

// Sink delivers reports to one destination. The outbox calls it with each report routed to it,
// an incident's reports one at a time and in order, after recording the attempt in the sink's
// delivery record; a report the record shows delivered is not handed over again. What is left is
// the window between the service accepting a message and the outcome being recorded: then the
// report comes again with Delivery.MaybePosted, and a sink that can look (Slack, Mattermost bot)
// finds its message instead of posting it twice.
type Sink interface {
	// Name names the sink in logs and metric labels: the name the config gives it for a sink
	// opened from a SinkPlan, else its kind ("stdout", "file").
	Name() string
	// Deliver sends one report. It is safe for concurrent use. It returns the incident's
	// thread in this sink (the root message a chat sink posted or replied to; nil for sinks
	// without threads), even with an error once a root message was posted, so the outbox can
	// record it before retrying. An error says what was attempted; a PermanentError or a
	// RetryAfterError tells the outbox how to go on, any other error is retried with backoff.
	Deliver(ctx context.Context, d Delivery) (*Thread, error)
}

// recentIDs remembers the IDs of the last reports a sink delivered, so that a report redelivered
// by the stream shortly after it was delivered (an ack lost in a crash or a timeout) is not
// written twice. It is bounded: memory stays flat however long the process runs, and a
// redelivery comes within minutes, long before a few thousand newer reports push its ID out.
// It is not safe for concurrent use; each sink guards it with its write lock.
type recentIDs struct {
	set  map[string]struct{}
	ring []string // insertion order; the oldest ID is evicted first
	next int
}

func newRecentIDs(capacity int) *recentIDs {
	return &recentIDs{set: make(map[string]struct{}, capacity), ring: make([]string, capacity)}
}

// seen reports whether id was delivered recently. The empty ID is never seen, so a report
// without one is always delivered.
func (r *recentIDs) seen(id string) bool {
	_, ok := r.set[id]
	return ok && id != ""
}

func (r *recentIDs) add(id string) {
	if id == "" || r.seen(id) {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}
