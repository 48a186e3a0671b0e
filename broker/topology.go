package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// TopologyOptions sizes the streams, consumers and bucket.
type TopologyOptions struct {
	Replicas int // stream and bucket replicas on a cluster; 1 on a single server
	// DuplicateWindow is how long JetStream remembers message ids: an alert resent by
	// Alertmanager within it is stored once.
	DuplicateWindow time.Duration
	AlertsMaxAge    time.Duration
	ReportsMaxAge   time.Duration
	// IncidentsMaxAge is how long an incident's state is kept after its last change.
	IncidentsMaxAge time.Duration
	// DeadLettersMaxAge is how long a dead letter is kept for listing and replay.
	DeadLettersMaxAge time.Duration
	// The streams' and the bucket's size limits in bytes (0: unbounded). When full, the streams
	// discard their oldest messages and the bucket refuses new keys: see Ensure.
	AlertsMaxBytes      int64
	ReportsMaxBytes     int64
	DeadLettersMaxBytes int64
	IncidentsMaxBytes   int64
	// DeliveriesMaxBytes bounds the deliveries bucket (each sink's thread and delivered reports
	// per incident), kept as long as the incidents (IncidentsMaxAge).
	DeliveriesMaxBytes int64
	// GraphsMaxBytes and GraphsMaxAge bound the graphs bucket (the metrics evidence's PNGs).
	// When full, it refuses new graphs: the triage worker then reports without them.
	GraphsMaxBytes int64
	GraphsMaxAge   time.Duration
	// HistoryMaxAge and HistoryMaxBytes bound the history stream (the alerts as triage handled
	// them, for backtests); when full, it drops its oldest records. HistoryMaxAge 0 keeps no
	// history: Ensure does not create the stream (nor delete one that exists).
	HistoryMaxAge   time.Duration
	HistoryMaxBytes int64
	// MaxDeliveries bounds the deliveries of an alert or report message; past it, the message is
	// dead-lettered (see DeadLetters). 0: unbounded.
	MaxDeliveries int
	// SinkMaxDeliveries bounds the deliveries of a report to one sink, higher than MaxDeliveries:
	// a chat service that is down for a while must not make its reports dead letters.
	SinkMaxDeliveries int
	AckWait           time.Duration
	MaxAckPending     int
}

// Default size limits. JetStream reserves a stream's max_bytes on the server when the stream is
// created, so together they must fit the server's JetStream storage (max_file_store).
const (
	DefaultAlertsMaxBytes      = 1 << 30
	DefaultReportsMaxBytes     = 1 << 30
	DefaultDeadLettersMaxBytes = 256 << 20
	DefaultIncidentsMaxBytes   = 1 << 30
	DefaultDeliveriesMaxBytes  = 256 << 20
	DefaultGraphsMaxBytes      = 256 << 20
	DefaultHistoryMaxBytes     = 1 << 30
)

// DefaultHistoryMaxAge is how long the history keeps an alert: two weeks of traffic to backtest a
// candidate rule set on.
const DefaultHistoryMaxAge = 14 * 24 * time.Hour

// DefaultTopologyOptions are the sizes used when the config says nothing.
func DefaultTopologyOptions() TopologyOptions {
	return TopologyOptions{
		Replicas:            1,
		DuplicateWindow:     10 * time.Minute,
		AlertsMaxAge:        24 * time.Hour,
		ReportsMaxAge:       30 * 24 * time.Hour,
		IncidentsMaxAge:     30 * 24 * time.Hour,
		DeadLettersMaxAge:   14 * 24 * time.Hour,
		AlertsMaxBytes:      DefaultAlertsMaxBytes,
		ReportsMaxBytes:     DefaultReportsMaxBytes,
		DeadLettersMaxBytes: DefaultDeadLettersMaxBytes,
		IncidentsMaxBytes:   DefaultIncidentsMaxBytes,
		DeliveriesMaxBytes:  DefaultDeliveriesMaxBytes,
		GraphsMaxBytes:      DefaultGraphsMaxBytes,
		GraphsMaxAge:        30 * 24 * time.Hour,
		HistoryMaxAge:       DefaultHistoryMaxAge,
		HistoryMaxBytes:     DefaultHistoryMaxBytes,
		MaxDeliveries:       10,
		AckWait:             30 * time.Second,
		MaxAckPending:       1000,
	}
}

// maxDeliver is the consumers' MaxDeliver: one past the bound at which the handlers dead-letter a
// message, a backstop should a process die between the last delivery and the dead-lettering.
func (o TopologyOptions) maxDeliver() int {
	if o.MaxDeliveries <= 0 {
		return -1
	}
	return o.MaxDeliveries + 1
}

func (o TopologyOptions) sinkMaxDeliver() int {
	if o.SinkMaxDeliveries <= 0 {
		return o.maxDeliver()
	}
	return o.SinkMaxDeliveries + 1
}

// Topology is every JetStream object triage needs, created or updated.
type Topology struct {
	Alerts      jetstream.Stream
	Reports     jetstream.Stream
	DeadLetters jetstream.Stream
	Triage      jetstream.Consumer
	Timers      jetstream.Consumer
	Incidents   jetstream.KeyValue
	Deliveries  jetstream.KeyValue
	Graphs      jetstream.KeyValue
	History     jetstream.Stream
}

// Ensure creates or updates the streams, the shared triage consumer and the buckets. It
// is idempotent, so every replica runs it at start.
//
// Each has a size limit. The streams keep messages after they are handled (for their max age), so
// when one is full it discards its oldest messages rather than refusing new ones: the alerts
// stream would otherwise refuse every webhook (503) until history aged out, a day of no triage;
// its oldest messages are alerts triaged long ago, and should triage be behind by a whole
// stream, Alertmanager resends each group's state at its next group or repeat interval. The
// reports stream drops its oldest reports (a sink far behind loses the oldest), the dead-letters
// stream its oldest dead letters. The bucket, a key-value store, refuses to grow instead
// (discarding would drop other incidents' state): an incident can still be updated in place, a
// new one cannot be opened, and the notification that would open it is retried and then
// dead-lettered, to be replayed once the limit is raised.
func Ensure(ctx context.Context, js jetstream.JetStream, n Names, o TopologyOptions) (*Topology, error) {
	var t Topology
	var err error
	t.Alerts, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        n.AlertsStream(),
		Description: "triaged: one message per Alertmanager alert, waiting for triage",
		Subjects:    []string{n.AlertSubjects()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      o.AlertsMaxAge,
		MaxBytes:    maxBytes(o.AlertsMaxBytes),
		Duplicates:  o.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w%s", n.AlertsStream(), err, storageHint(err))
	}
	t.Reports, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        n.ReportsStream(),
		Description: "triaged: incident reports, the outbox every sink reads",
		Subjects:    []string{n.ReportSubjects()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      o.ReportsMaxAge,
		MaxBytes:    maxBytes(o.ReportsMaxBytes),
		Duplicates:  o.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w%s", n.ReportsStream(), err, storageHint(err))
	}
	t.DeadLetters, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        n.DeadLettersStream(),
		Description: "triaged: messages a consumer gave up on, with the reason, for listing and replay",
		Subjects:    []string{n.DeadLetterSubjects()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      o.DeadLettersMaxAge,
		MaxBytes:    maxBytes(o.DeadLettersMaxBytes),
		Duplicates:  min(o.DuplicateWindow, o.DeadLettersMaxAge),
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w%s", n.DeadLettersStream(), err, storageHint(err))
	}
	t.Triage, err = js.CreateOrUpdateConsumer(ctx, n.AlertsStream(), jetstream.ConsumerConfig{
		Durable:       n.TriageConsumer(),
		Description:   "triaged: the triage worker pools of every replica",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    o.maxDeliver(),
		MaxAckPending: o.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Not the timers: each waits unacknowledged until due, and 1,000 incidents with an
		// update pending would fill MaxAckPending and stall triage until the first fell due.
		FilterSubjects: []string{n.AlertSubject(triaged.StatusFiring), n.AlertSubject(triaged.StatusResolved)},
	})
	if err != nil {
		return nil, fmt.Errorf("create or update consumer %s on %s: %w", n.TriageConsumer(), n.AlertsStream(), err)
	}
	t.Timers, err = js.CreateOrUpdateConsumer(ctx, n.AlertsStream(), jetstream.ConsumerConfig{
		Durable:     n.TimerConsumer(),
		Description: "triaged: incident timers, each held unacknowledged until due",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     o.AckWait,
		// Handed back until due, a timer's deliveries are no redeliveries: not bounded.
		MaxDeliver:    -1,
		MaxAckPending: -1, // one timer per incident with an update or a summary due: no bound
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: n.TimerSubject(),
	})
	if err != nil {
		return nil, fmt.Errorf("create or update consumer %s on %s: %w", n.TimerConsumer(), n.AlertsStream(), err)
	}
	t.Incidents, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.IncidentsBucket(),
		Description: "triaged: state of each incident, keyed by alert fingerprint",
		History:     1,
		TTL:         o.IncidentsMaxAge,
		MaxBytes:    maxBytes(o.IncidentsMaxBytes),
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update key-value bucket %s: %w%s", n.IncidentsBucket(), err, storageHint(err))
	}
	// Like the incidents bucket, it refuses new keys when full: a report of an incident new to
	// a sink is then retried, and dead-lettered, rather than delivered without its record.
	t.Deliveries, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.DeliveriesBucket(),
		Description: "triaged: per sink and incident, the thread and the reports delivered",
		History:     1,
		TTL:         o.IncidentsMaxAge,
		MaxBytes:    maxBytes(o.DeliveriesMaxBytes),
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update key-value bucket %s: %w%s", n.DeliveriesBucket(), err, storageHint(err))
	}
	// It refuses new graphs when full too, and nothing else waits on it: a graph that cannot be
	// stored is left out of the report, which says why.
	t.Graphs, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.GraphsBucket(),
		Description: "triaged: PNG graphs of the incidents' metrics evidence, keyed by incident and graph",
		History:     1,
		TTL:         graphsMaxAge(o),
		MaxBytes:    maxBytes(o.GraphsMaxBytes),
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update key-value bucket %s: %w%s", n.GraphsBucket(), err, storageHint(err))
	}
	if o.HistoryMaxAge <= 0 {
		return &t, nil
	}
	// History is kept for backtests only: nothing waits on it, and when full its oldest records
	// go. Compressed: records repeat their group's labels and annotations. The duplicate window
	// makes the records of a redelivered alert message, written again under the same ids, count
	// once.
	t.History, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        n.HistoryStream(),
		Description: "triaged: the alerts as triage handled them, for backtests of candidate rules",
		Subjects:    []string{n.HistorySubjects()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Compression: jetstream.S2Compression,
		Replicas:    o.Replicas,
		MaxAge:      o.HistoryMaxAge,
		MaxBytes:    maxBytes(o.HistoryMaxBytes),
		Duplicates:  min(o.DuplicateWindow, o.HistoryMaxAge),
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w%s", n.HistoryStream(), err, storageHint(err))
	}
	return &t, nil
}

// graphsMaxAge is how long graphs are kept: GraphsMaxAge, or as long as the incidents.
func graphsMaxAge(o TopologyOptions) time.Duration {
	if o.GraphsMaxAge > 0 {
		return o.GraphsMaxAge
	}
	return o.IncidentsMaxAge
}

// storageHint says what to do when JetStream cannot reserve a stream's max_bytes ("insufficient
// storage resources"), else nothing.
func storageHint(err error) string {
	if api := (*jetstream.APIError)(nil); errors.As(err, &api) && api.ErrorCode == 10047 {
		return " (JetStream reserves every stream's max_bytes: lower nats.*_max_bytes, or give the server more storage with max_file_store)"
	}
	return ""
}

// maxBytes is a size limit as JetStream takes it: -1 for none.
func maxBytes(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// DefaultSinkConcurrency is how many incidents a sink's deliverer works on at once when the config
// says nothing.
const DefaultSinkConcurrency = 32

// SinkMaxAckPending is the MaxAckPending of a sink consumer delivering to concurrency incidents at
// once: room for the reports being delivered, for later reports of the same incidents waiting
// their turn, and for the next ones already pulled.
func SinkMaxAckPending(concurrency int) int {
	if concurrency <= 0 {
		concurrency = DefaultSinkConcurrency
	}
	return max(8*concurrency, 64)
}

// EnsureSinkConsumer creates or updates the durable consumer that feeds one sink. A sink added
// later starts with the reports published from then on, not with the whole history. Several
// reports are in flight at once (see SinkMaxAckPending): the outbox keeps each incident's in
// order itself.
func EnsureSinkConsumer(ctx context.Context, js jetstream.JetStream, n Names, sink string, concurrency int, o TopologyOptions) (jetstream.Consumer, error) {
	name := n.SinkConsumer(sink)
	c, err := js.CreateOrUpdateConsumer(ctx, n.ReportsStream(), jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "triaged: delivery to sink " + sink,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    o.sinkMaxDeliver(),
		MaxAckPending: SinkMaxAckPending(concurrency),
		DeliverPolicy: jetstream.DeliverNewPolicy,
		FilterSubject: n.ReportSubjects(),
	})
	if err != nil {
		return nil, fmt.Errorf("create or update consumer %s on %s: %w", name, n.ReportsStream(), err)
	}
	return c, nil
}
