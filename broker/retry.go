package broker

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RetryDelay is how long to wait before m is delivered again after a transient failure: the
// n-th value of backoff for the n-th delivery, the last value repeating. It also returns n, for
// the log. Every consumer of triaged backs off the same way.
func RetryDelay(m jetstream.Msg, backoff []time.Duration) (time.Duration, uint64) {
	n := uint64(1)
	if meta, err := m.Metadata(); err == nil && meta.NumDelivered > 0 {
		n = meta.NumDelivered
	}
	if len(backoff) == 0 {
		return 0, n
	}
	return backoff[min(n, uint64(len(backoff)))-1], n
}
