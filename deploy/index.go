package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/fielderr"
)

// IndexOptions configures an Index.
type IndexOptions struct {
	// MaxAge drops events older than this from memory; the stream's max age (DefaultMaxAge
	// when 0) is the natural value.
	MaxAge time.Duration
	// MaxEvents caps memory whatever the publishers do: beyond it the oldest events are
	// dropped. Default 100000.
	MaxEvents  int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
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

	mu        sync.RWMutex
	byService map[string][]*Event // each sorted by Time, oldest first
	byKey     map[string]*Event
	total     int
}

type indexMetrics struct {
	received *prometheus.CounterVec
	invalid  *prometheus.CounterVec
	events   prometheus.Gauge
	ready    prometheus.Gauge
}

// NewIndex returns an empty index of names' deploys stream; Run fills it.
func NewIndex(js jetstream.JetStream, names broker.Names, o IndexOptions) *Index {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 100_000
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
		invalid: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_deploys_invalid_total",
			Help: "Invalid deploy events on the stream that this replica's index skipped after it caught up, by source.",
		}, []string{"source"}),
		events: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_deploy_index_events",
			Help: "Deploy events held in this replica's in-memory index.",
		}),
		ready: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_deploy_index_ready",
			Help: "1 once this replica's deploy index has read the deploys stream up to where it stood at start.",
		}),
	}
	for _, s := range []string{SourceHTTP, SourceNATS} {
		m.received.WithLabelValues(s)
		m.invalid.WithLabelValues(s)
	}
	return &Index{
		js: js, names: names, opts: o, m: m,
		log:       o.Logger.With("component", "deploy-index"),
		ready:     make(chan struct{}),
		byService: make(map[string][]*Event),
		byKey:     make(map[string]*Event),
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
	return ix.total
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
// must never stop the index.
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
			ix.m.invalid.WithLabelValues(source).Inc()
		}
		ix.log.Log(context.Background(), level, "skipping invalid deploy event", "subject", m.Subject(),
			"seq", meta.Sequence.Stream, "source", source, "err", err)
	} else {
		ix.add(e)
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
	// instant on every replica and after every restart.
	e = e.withDefaults(meta.Timestamp)
	if err := checkNotFuture(&e, meta.Timestamp); err != nil {
		return Event{}, err
	}
	return e, nil
}

// add puts e in the index. A later event of the same deploy (same service, environment,
// version and time) replaces the earlier one in place: "succeeded" after "started".
func (ix *Index) add(e Event) {
	now := ix.opts.Now()
	if e.Time.Before(now.Add(-ix.opts.MaxAge)) {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	k := e.key()
	if old, ok := ix.byKey[k]; ok {
		*old = e
		return
	}
	p := &e
	list := ix.byService[e.Service]
	i, _ := slices.BinarySearchFunc(list, e.Time, func(x *Event, t time.Time) int { return x.Time.Compare(t) })
	// Among equal times, keep arrival order: insert after them.
	for i < len(list) && list[i].Time.Equal(e.Time) {
		i++
	}
	ix.byService[e.Service] = slices.Insert(list, i, p)
	ix.byKey[k] = p
	ix.total++
	if ix.total > ix.opts.MaxEvents {
		ix.capLocked()
	}
	ix.m.events.Set(float64(ix.total))
}

func (ix *Index) prune() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.pruneLocked(ix.opts.Now())
}

// pruneLocked drops the events older than MaxAge. It runs on a timer rather than on every
// insert, because it visits every service.
func (ix *Index) pruneLocked(now time.Time) {
	cutoff := now.Add(-ix.opts.MaxAge)
	for svc, list := range ix.byService {
		n := 0
		for n < len(list) && list[n].Time.Before(cutoff) {
			n++
		}
		ix.dropLocked(svc, n)
	}
	ix.m.events.Set(float64(ix.total))
}

// capLocked drops the oldest events until 1% below MaxEvents. The slack, and one sort rather
// than a scan per event, keep a flood of events from costing a pass over the index per insert.
func (ix *Index) capLocked() {
	excess := ix.total - (ix.opts.MaxEvents - ix.opts.MaxEvents/100)
	all := make([]*Event, 0, ix.total)
	for _, list := range ix.byService {
		all = append(all, list...)
	}
	slices.SortFunc(all, func(a, b *Event) int { return a.Time.Compare(b.Time) })
	drop := map[string]int{}
	for _, e := range all[:excess] {
		drop[e.Service]++
	}
	// Each service's list is sorted by time, so its n oldest are exactly its first n.
	for svc, n := range drop {
		ix.dropLocked(svc, n)
	}
}

// dropLocked removes the n oldest events of svc.
func (ix *Index) dropLocked(svc string, n int) {
	if n == 0 {
		return
	}
	list := ix.byService[svc]
	for _, e := range list[:n] {
		delete(ix.byKey, e.key())
	}
	ix.total -= n
	if n == len(list) {
		delete(ix.byService, svc)
		return
	}
	// Copy rather than reslice, so the dropped events' memory is released.
	ix.byService[svc] = slices.Clone(list[n:])
}
