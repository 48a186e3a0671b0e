package outbox

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
)

// item is one report message held by the deliverer until its ack decision.
type item struct {
	m   jetstream.Msg
	rep *triaged.Report
	n   int    // its number in the incident (0: unknown)
	seq uint64 // its stream sequence
}

// lane holds one incident's reports in this process, in order, so that only one of them is
// delivered at a time and an update never overtakes its opening. The delivery record keeps
// the order across processes (see record.gate).
type lane struct {
	key     string
	items   []*item // by report number, then stream sequence
	running bool    // a goroutine owns the lane: waiting for a slot or delivering
	timer   *time.Timer
	// The gap waited for: since when, and the record's state then (a change restarts it).
	gapSince  time.Time
	gapLast   int
	gapIntent string
}

func (l *lane) insert(it *item) {
	i, _ := slices.BinarySearchFunc(l.items, it, func(a, b *item) int {
		if a.n != b.n {
			return a.n - b.n
		}
		return int(a.seq) - int(b.seq)
	})
	l.items = slices.Insert(l.items, i, it)
}

func (l *lane) remove(it *item) {
	if i := slices.Index(l.items, it); i >= 0 {
		l.items = slices.Delete(l.items, i, i+1)
	}
}

// engine schedules the lanes of one deliverer on at most Concurrency goroutines.
type engine struct {
	d        *Deliverer
	ctx      context.Context // the deliveries' context: outlives Run's, each attempt bounded
	grace    time.Duration   // how long past its due time an attempt of another process is waited for
	slots    chan struct{}
	mu       sync.Mutex
	lanes    map[string]*lane
	stopping bool
	wg       sync.WaitGroup
}

func newEngine(d *Deliverer, ackWait time.Duration) *engine {
	return &engine{
		d:     d,
		ctx:   context.Background(),
		grace: ackWait + 5*time.Second,
		slots: make(chan struct{}, d.o.Concurrency),
		lanes: map[string]*lane{},
	}
}

// dispatch puts a message in its incident's lane. It decodes the report first: the incident is
// in it, and a report that cannot be decoded is set aside at once.
func (e *engine) dispatch(m jetstream.Msg) {
	rep, err := triaged.DecodeReport(m.Data())
	if err != nil {
		e.d.log.Error("report undecodable; dead-lettered", "subject", m.Subject(), "err", err)
		e.d.metrics.deliveries.WithLabelValues(e.d.sink.Name(), resultUndecodable).Inc()
		e.wg.Go(func() { // not on the pulling goroutine: storing the dead letter is a round trip
			e.d.o.DeadLetters.Send(e.ctx, m, broker.ReasonUndecodable, fmt.Errorf("undecodable report: %w", err), e.d.o.RetryBackoff[0])
		})
		return
	}
	it := &item{m: m, rep: rep, n: reportNumber(rep)}
	if meta, err := m.Metadata(); err == nil {
		it.seq = meta.Sequence.Stream
	}
	key := rep.IncidentID
	if key == "" {
		key = "report:" + rep.ID // no incident, no order to keep
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		_ = m.Nak()
		return
	}
	l := e.lanes[key]
	if l == nil {
		l = &lane{key: key}
		e.lanes[key] = l
	}
	l.insert(it)
	e.wake(l)
}

// wake starts a goroutine for l unless one owns it; a parked lane is woken early, since the
// report that arrived may be the one it waits for. Called with e.mu held.
func (e *engine) wake(l *lane) {
	if l.running || e.stopping {
		return
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.running = true
	e.wg.Add(1)
	go e.run(l)
}

// run delivers l's reports in order until it is empty or must wait.
func (e *engine) run(l *lane) {
	defer e.wg.Done()
	e.slots <- struct{}{}
	defer func() { <-e.slots }()
	for {
		e.mu.Lock()
		if e.stopping || len(l.items) == 0 {
			e.release(l)
			e.mu.Unlock()
			return
		}
		head := l.items[0]
		e.mu.Unlock()

		out := e.step(l, head)

		e.mu.Lock()
		if out.decided {
			l.remove(head)
		}
		// A report that arrived meanwhile ahead of the head (the one it waits for, back from
		// its retry) is taken at once instead of after the wait.
		if !out.wait.IsZero() && !e.stopping && len(l.items) > 0 && l.items[0] == head {
			l.running = false
			var t *time.Timer
			t = time.AfterFunc(time.Until(out.wait), func() {
				e.mu.Lock()
				defer e.mu.Unlock()
				if l.timer == t {
					l.timer = nil
					e.wake(l)
				}
			})
			l.timer = t
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
	}
}

// step runs the deliverer's step on it; a panic (a sink's bug) sets the report aside as a dead
// letter instead of ending the process.
func (e *engine) step(l *lane, it *item) (out outcome) {
	defer func() {
		if v := recover(); v != nil {
			e.d.log.Error("delivery panicked; report dead-lettered", "incident", it.rep.IncidentID, "report", it.rep.ID, "panic", v)
			// Recorded as dealt with (from an empty record, which the update reads afresh), so the
			// incident's later reports do not wait for it.
			out = e.d.deadLetter(e.ctx, l.key, &record{}, 0, it, nil, broker.ReasonPanic, resultPermanent, fmt.Errorf("%w: %v", broker.ErrPanic, v))
		}
	}()
	return e.d.step(e, l, it)
}

// release lets go of a lane whose goroutine ends: an empty lane is forgotten; when stopping,
// its reports are handed back to the stream at once, for another replica or the next start.
// Called with e.mu held.
func (e *engine) release(l *lane) {
	l.running = false
	if e.stopping {
		for _, it := range l.items {
			_ = it.m.Nak()
		}
		l.items = nil
	}
	if len(l.items) == 0 && e.lanes[l.key] == l {
		delete(e.lanes, l.key)
	}
}

// stop ends the engine: no lane starts again, the reports waiting are handed back, and the
// deliveries under way are finished.
func (e *engine) stop() {
	e.mu.Lock()
	e.stopping = true
	for _, l := range e.lanes {
		if l.timer != nil {
			l.timer.Stop()
			l.timer = nil
		}
		if !l.running {
			e.release(l)
		}
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// heartbeat tells the server every interval that the reports held here are still being worked
// on, waiting ones included, so none is handed to another replica while this one has it.
func (e *engine) heartbeat(ctx context.Context, every time.Duration) {
	t := time.NewTicker(max(every, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		var held []jetstream.Msg
		for _, l := range e.lanes {
			for _, it := range l.items {
				held = append(held, it.m)
			}
		}
		e.mu.Unlock()
		for _, m := range held {
			_ = m.InProgress()
		}
	}
}
