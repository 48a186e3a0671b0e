package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/fielderr"
)

// IndexOptions configures an Index. The three bounds keep a flood of events, whether for one
// service or for many made-up ones, from evicting the deploys of the other services; what a
// bound dropped is said by Correlate, so a report never claims "no deploys" it could not see.
type IndexOptions struct {
	// MaxAge drops events older than this from memory; the stream's max age (DefaultMaxAge
	// when 0) is the natural value.
	MaxAge time.Duration
	// MaxPerService bounds the events kept per service and environment: beyond it that
	// pair's oldest are dropped, and no other's. Default DefaultMaxPerService.
	MaxPerService int
	// MaxServices bounds the service and environment pairs tracked: while it is reached, an
	// event of a pair not tracked is refused, until expired events free a place. Default
	// DefaultMaxServices.
	MaxServices int
	// MaxEvents caps memory whatever the publishers do: beyond it the pairs holding the most
	// events lose their oldest, so a pair holding less than 99% of MaxEvents/MaxServices, less
	// one, never does. Default DefaultMaxEvents; MaxServices is at most MaxEvents.
	MaxEvents int
	// MaxClockSkew is how far after its stream timestamp an event's time may lie; default
	// DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

// Index is one replica's in-memory view of the deploys stream. Run feeds it; Correlate reads
// it, from any goroutine, without a network round trip.
type Index struct {
	js    jetstream.JetStream
	names broker.Names
	opts  IndexOptions
	log   *slog.Logger
	m     *indexMetrics

	readyOnce sync.Once
	ready     chan struct{}

	mu    sync.RWMutex
	store store
}

type indexMetrics struct {
	received  *prometheus.CounterVec
	refused   *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	events    prometheus.Gauge
	services  prometheus.Gauge
	saturated prometheus.Gauge
	ready     prometheus.Gauge
}

// NewIndex returns an empty index of names' deploys stream; Run fills it.
func NewIndex(js jetstream.JetStream, names broker.Names, o IndexOptions) *Index {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxPerService <= 0 {
		o.MaxPerService = DefaultMaxPerService
	}
	if o.MaxServices <= 0 {
		o.MaxServices = DefaultMaxServices
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	// Every pair tracked keeps at least one event, so this many pairs would overrun MaxEvents.
	o.MaxServices = min(o.MaxServices, o.MaxEvents)
	if o.MaxClockSkew <= 0 {
		o.MaxClockSkew = DefaultMaxClockSkew
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f := promauto.With(o.Registerer)
	m := &indexMetrics{
		received: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_deploys_received_total",
			Help: "Valid deploy events this replica's index received after it caught up with the stream, by source (http: POST /api/v1/deploys; nats: published on NATS directly). The replay at start is not counted.",
		}, []string{"source"}),
		refused: refusedCounter(o.Registerer),
		dropped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_deploy_index_dropped_total",
			Help: "Valid deploy events this replica's index dropped or refused after it caught up, by the bound that did it (per_service: the oldest of a service and environment over its bound; services: a pair not tracked while the index tracks its maximum; events: the oldest of the largest pairs over the total bound).",
		}, []string{"reason"}),
		events: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_deploy_index_events",
			Help: "Deploy events held in this replica's in-memory index.",
		}),
		services: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_deploy_index_services",
			Help: "Service and environment pairs tracked by this replica's deploy index.",
		}),
		saturated: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_deploy_index_saturated_services",
			Help: "Service and environment pairs whose dropped events are still within the max age, so their reports say the changes may be incomplete; plus 1 while events of pairs not tracked were refused within the max age.",
		}),
		ready: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_deploy_index_ready",
			Help: "1 once this replica's deploy index has read the deploys stream up to where it stood at start.",
		}),
	}
	for _, s := range []string{SourceHTTP, SourceNATS} {
		m.received.WithLabelValues(s)
	}
	for _, r := range []string{DroppedPerService, DroppedServices, DroppedEvents} {
		m.dropped.WithLabelValues(r)
	}
	return &Index{
		js: js, names: names, opts: o, m: m,
		log:   o.Logger.With("component", "deploy-index"),
		ready: make(chan struct{}),
		store: newStore(),
	}
}

// Ready reports whether the index has caught up with the stream as it stood when Run started.
func (ix *Index) Ready() bool {
	select {
	case <-ix.ready:
		return true
	default:
		return false
	}
}

// WaitReady blocks until the index is ready or ctx is done.
func (ix *Index) WaitReady(ctx context.Context) error {
	select {
	case <-ix.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the deploy index to load: %w", context.Cause(ctx))
	}
}

func (ix *Index) markReady() {
	ix.readyOnce.Do(func() {
		close(ix.ready)
		ix.m.ready.Set(1)
		ix.log.Info("deploy index loaded", "events", ix.Len())
	})
}

// Len is the number of events held.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.store.total
}

// How often Run drops expired events, and checks whether it has caught up when no message
// said so.
const (
	pruneEvery      = time.Minute
	readyCheckEvery = time.Second
)

// Run reads the deploys stream from its first message with an ordered consumer, so the index
// is rebuilt at every start, then keeps it current until ctx is done. Call it once per Index.
// It returns an error only when it cannot start: the stream is missing or the consumer cannot
// be created. Stopping, even while starting, is not an error.
//
// Caught up means: every message that was on the stream when Run started has been read. Run
// takes the stream's last sequence before it starts reading; the index is ready when it has
// read that sequence, or a message with no messages pending after it, or when the stream
// holds nothing older than that sequence any more (it expired while being read).
func (ix *Index) Run(ctx context.Context) error {
	for again := false; ; again = true {
		err := ix.run(ctx, again)
		if !errors.Is(err, errRecreated) {
			return err
		}
		ix.log.Warn("deploys stream deleted or recreated; reading it again from its start once it exists", "stream", ix.names.DeploysStream(), "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(recreatedCheckEvery):
		}
	}
}

// run reads the deploys stream until ctx is done, or until the stream is found recreated
// (errRecreated): an ordered consumer would go on waiting for the old stream's next sequence.
// Read again, a stream not there yet is waited for; at the first read it is an error.
func (ix *Index) run(ctx context.Context, again bool) error {
	stream, err := ix.js.Stream(ctx, ix.names.DeploysStream())
	if again && errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: %w", errRecreated, err) // deleted: the self-healing creates it again
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("look up stream %s: %w", ix.names.DeploysStream(), err)
	}
	state := stream.CachedInfo().State
	target := state.LastSeq
	if state.Msgs == 0 {
		ix.markReady()
	}
	cons, err := ix.js.OrderedConsumer(ctx, ix.names.DeploysStream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ix.names.DeploySubjects()},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: %w", errRecreated, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // asked to stop while starting
		}
		return fmt.Errorf("create ordered consumer on %s: %w", ix.names.DeploysStream(), err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read stream %s: %w", ix.names.DeploysStream(), err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()

	// maintain and the watch end with this read of the stream, not only with ctx.
	readCtx, endRead := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { endRead(); wg.Wait() }()
	wg.Go(func() { ix.maintain(readCtx, stream, target) })
	wg.Go(func() { watchRecreated(readCtx, stream, it.Stop) })

	ix.log.Info("loading deploy index", "stream", ix.names.DeploysStream(), "messages", state.Msgs)
	for {
		m, err := it.Next()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			// Stopped by the watch, or by the ordered consumer itself when its stream was deleted.
			return errRecreated
		}
		if err != nil {
			// The ordered consumer recreates itself after missed heartbeats and reconnects;
			// what reaches here is worth a line and a pause, never the end of the index.
			ix.log.Warn("reading deploys stream", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		ix.handle(m, target)
	}
}

// maintain drops expired events every pruneEvery and, until the index is ready, checks whether
// the messages it waits for expired before they could be read.
func (ix *Index) maintain(ctx context.Context, stream jetstream.Stream, target uint64) {
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	check := time.NewTicker(readyCheckEvery)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			ix.prune()
		case <-check.C:
			if ix.Ready() {
				check.Stop()
				continue
			}
			info, err := stream.Info(ctx)
			if err == nil && (info.State.Msgs == 0 || info.State.FirstSeq > target) {
				ix.markReady()
			}
		}
	}
}

// handle indexes one message. An invalid event is logged, counted and skipped: a bad publisher
// must never stop the index. Nothing is acknowledged or dead-lettered here: every replica reads
// the stream with an ordered consumer of its own and at every start again, so a dead letter
// would be written once per replica and per restart; the stream keeps the message anyway.
func (ix *Index) handle(m jetstream.Msg, target uint64) {
	live := ix.Ready() // counted only once caught up, so the replay at start does not inflate counters
	source := SourceNATS
	if m.Headers().Get(SourceHeader) == SourceHTTP {
		source = SourceHTTP
	}
	meta, err := m.Metadata()
	if err != nil {
		ix.log.Warn("skipping deploy message without metadata", "subject", m.Subject(), "err", err)
		return
	}
	e, err := ix.decode(m, meta)
	if err != nil {
		level := slog.LevelDebug // already reported when it arrived, before this restart
		if live {
			level = slog.LevelWarn
			ix.m.refused.WithLabelValues(source, refusedReason(err)).Inc()
		}
		ix.log.Log(context.Background(), level, "skipping invalid deploy event", "subject", m.Subject(),
			"seq", meta.Sequence.Stream, "source", source, "err", err)
	} else {
		ix.add(e, live)
		if live {
			ix.m.received.WithLabelValues(source).Inc()
		}
		ix.log.Debug("deploy indexed", "service", e.Service, "environment", e.Environment, "version", e.Version, "seq", meta.Sequence.Stream)
	}
	if !live && (meta.Sequence.Stream >= target || meta.NumPending == 0) {
		ix.markReady()
	}
}

// decode applies to a message what the HTTP handler applies to a request, plus the subject
// check: an event published on PREFIX.deploys.payments must be a deploy of payments.
func (ix *Index) decode(m jetstream.Msg, meta *jetstream.MsgMetadata) (Event, error) {
	e, err := DecodeEvent(m.Data())
	if err != nil {
		return Event{}, err
	}
	if want := ix.names.DeploySubject(e.Service); m.Subject() != want {
		return Event{}, fielderr.Errorf("service", "%q does not match the subject %s (want %s)", e.Service, m.Subject(), want)
	}
	// The stream timestamp is the same at every rebuild, so a missing time means the same
	// instant on every replica and after every restart, and a future-dated event is refused
	// at every rebuild as it was when it arrived.
	e = e.withDefaults(meta.Timestamp)
	if err := checkNotFuture(&e, meta.Timestamp, ix.opts.MaxClockSkew); err != nil {
		return Event{}, err
	}
	return e, nil
}

// add puts e in the index under its bounds, and counts what they dropped when live.
func (ix *Index) add(e Event, live bool) {
	now := ix.opts.Now()
	if e.Time.Before(now.Add(-ix.opts.MaxAge)) {
		return
	}
	ix.mu.Lock()
	d := ix.store.add(e, ix.limits())
	refused := ix.store.refused
	ix.setGaugesLocked()
	ix.mu.Unlock()
	if !live {
		return
	}
	// Once per flood, not once per event: the first refusal, then every thousandth.
	if d.services > 0 && (refused == 1 || refused%1000 == 0) {
		ix.log.Warn("deploy index full: events of services not tracked are refused", "service", e.Service,
			"environment", e.Environment, "max_services", ix.opts.MaxServices, "refused", refused)
	}
	if d.perService+d.events > 0 {
		ix.log.Debug("deploy index bound reached: oldest events dropped", "service", e.Service,
			"environment", e.Environment, "per_service", d.perService, "events", d.events)
	}
	ix.m.dropped.WithLabelValues(DroppedPerService).Add(float64(d.perService))
	ix.m.dropped.WithLabelValues(DroppedServices).Add(float64(d.services))
	ix.m.dropped.WithLabelValues(DroppedEvents).Add(float64(d.events))
}

func (ix *Index) limits() limits {
	return limits{perService: ix.opts.MaxPerService, services: ix.opts.MaxServices, events: ix.opts.MaxEvents}
}

func (ix *Index) prune() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.store.prune(ix.opts.Now().Add(-ix.opts.MaxAge))
	ix.setGaugesLocked()
}

func (ix *Index) setGaugesLocked() {
	ix.m.events.Set(float64(ix.store.total))
	ix.m.services.Set(float64(ix.store.nseries))
	n := ix.store.saturated
	if ix.store.refused > 0 {
		n++
	}
	ix.m.saturated.Set(float64(n))
}
