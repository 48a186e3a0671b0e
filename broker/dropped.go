package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// DropWatch notices when the alerts stream, full, discards messages its triage consumer had not
// yet acknowledged. The stream discards its oldest messages when full (see Ensure): normally
// notifications triaged long ago, but should triage be behind by a whole stream, notifications
// nobody triaged, which NATS drops without a word. The consumer's ack floor (every message at or
// below it is acknowledged) behind the stream's first sequence says that happened: the messages
// between were discarded unacknowledged.
type DropWatch struct {
	mu sync.Mutex
	// counted is the last stream sequence already counted as dropped: a gap is counted once.
	counted uint64
	total   prometheus.Counter
	log     *slog.Logger
}

// NewDropWatch returns a DropWatch counting in triaged_alerts_dropped_untriaged_total on reg
// (nil: not registered).
func NewDropWatch(reg prometheus.Registerer, log *slog.Logger) *DropWatch {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	total := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "triaged_alerts_dropped_untriaged_total",
		Help: "Messages the alerts stream discarded, full (nats.alerts_max_bytes), before the triage consumer acknowledged them; every replica counts the same drops.",
	})
	if reg != nil {
		reg.MustRegister(total)
	}
	return &DropWatch{total: total, log: log.With("component", "drop-watch")}
}

// Check reads the stream's first sequence, then the consumer's ack floor, and counts what was
// dropped since the last check. It returns the consumer's info, which callers use for the
// pending gauges. The stream is read first: the floor, read after, can only be higher, so a
// message acknowledged between the two reads is never counted as dropped.
func (d *DropWatch) Check(ctx context.Context, js jetstream.JetStream, stream string, c jetstream.Consumer) (*jetstream.ConsumerInfo, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read consumer info: %w", err)
	}
	si := s.CachedInfo()
	d.Observe(si.State.FirstSeq, si.State.LastSeq, ci.AckFloor.Stream, ci.Name)
	return ci, nil
}

// Observe counts the messages below first, the stream's first sequence, above floor, the
// consumer's ack floor, that it did not count before; last is the stream's last sequence.
func (d *DropWatch) Observe(first, last, floor uint64, consumer string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if last < d.counted {
		d.counted = 0 // a new stream (recreated, or NATS lost its data): its sequences start over
	}
	from := max(floor, d.counted)
	if first == 0 || first-1 <= from {
		return
	}
	n := first - 1 - from
	d.counted = first - 1
	d.total.Add(float64(n))
	d.log.Error("the alerts stream is full and discarded messages triage had not handled: their alerts were not triaged "+
		"(Alertmanager sends their groups again at the next group_interval or repeat_interval); raise nats.alerts_max_bytes or triage's throughput",
		"consumer", consumer, "dropped", n, "stream_first_sequence", first, "ack_floor", floor)
}
