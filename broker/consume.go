package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sourcegraph/conc/pool"
)

// Handler handles one message and makes its ack decision itself (Ack, NakWithDelay or
// TermWithReason), in one place, from what it learned.
type Handler func(ctx context.Context, m jetstream.Msg)

// RunOptions shapes a consumer loop.
type RunOptions struct {
	Workers int
	// InProgressEvery, when set, tells the server a message is still being worked on at this
	// interval, so work that outlasts AckWait is not redelivered to another worker.
	InProgressEvery time.Duration
	Logger          *slog.Logger
	// OnPanic is called after a handler panicked and its message was dead-lettered.
	OnPanic func(m jetstream.Msg, recovered any)
	// DeadLetters takes the messages whose handler panicked and, unless Unbounded, those that
	// arrive after more deliveries than it allows. Nil: they are terminated.
	DeadLetters *DeadLetters
	// Unbounded: the handler hands messages back until they fall due, so their deliveries are
	// no redeliveries and are not bounded here.
	Unbounded bool
	// Busy is told when a worker starts (+1) and ends (-1) a message.
	Busy func(delta int)
}

// ErrPanic is the reason given to a message whose handler panicked.
var ErrPanic = errors.New("handler panicked")

// Run feeds messages of c to at most o.Workers concurrent handlers until ctx is done. Then it
// stops pulling, hands the buffered messages to the handlers, and waits for every handler to
// return: in-flight work is finished, not abandoned. Handlers get a context that outlives ctx;
// they bound their own work.
//
// A consumer deleted under it (by hand, with its stream, or by a NATS server that lost its
// data) ends the server's pull; Run then waits, backing off, until the consumer is back (see
// Healer) and pulls again, so triage never stops silently.
func Run(ctx context.Context, c jetstream.Consumer, o RunOptions, h Handler) error {
	if o.Workers < 1 {
		o.Workers = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	handlerCtx := context.WithoutCancel(ctx)
	p := pool.New().WithMaxGoroutines(o.Workers)
	defer p.Wait()
	return Feed(ctx, c, 2*o.Workers, o.Logger, func(m jetstream.Msg) {
		p.Go(func() { handleOne(handlerCtx, m, o, h) })
	})
}

// Feed pulls messages of c, batch at a time, and hands each to fn until ctx is done; fn must not
// block but to hold back pulling. Like Run, it waits for a consumer deleted under it to be back and pulls again.
// It is Run's loop for callers that schedule the work themselves (the outbox's incident lanes).
func Feed(ctx context.Context, c jetstream.Consumer, batch int, log *slog.Logger, fn func(jetstream.Msg)) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := c.CachedInfo().Name
	for wait := time.Duration(0); ; {
		started := time.Now()
		if err := pull(ctx, c, max(batch, 1), log, fn); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			wait = 0 // it pulled fine for a while: this is a new outage
		}
		wait = min(max(2*wait, 100*time.Millisecond), maxRepullWait)
		log.Warn("consumer stopped delivering; pulling again once it exists", "consumer", name, "in", wait)
		if !awaitConsumer(ctx, c, wait, log) {
			return nil
		}
	}
}

// maxRepullWait bounds the back-off between attempts to pull from a consumer that went away.
const maxRepullWait = 5 * time.Second

// A pull request lives on the server that leads the consumer. When that node is lost or cut
// off, the consumer's new leader knows nothing of it and nothing is delivered until the client
// misses two heartbeats and pulls again: with nats.go's defaults (30 s requests, heartbeats at
// half of that) triage and delivery stalled for up to 30 s after a node froze. Shorter requests
// with heartbeats every 2.5 s resume within 5 s of the pull being lost, for a pull request and a
// heartbeat per consumer every few seconds.
const (
	pullExpiry    = 10 * time.Second
	pullHeartbeat = 2500 * time.Millisecond
)

// pull feeds messages to handle until ctx is done or the server ends the pull (the consumer
// was deleted).
func pull(ctx context.Context, c jetstream.Consumer, batch int, log *slog.Logger, handle func(jetstream.Msg)) error {
	it, err := c.Messages(jetstream.PullMaxMessages(batch), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat))
	if err != nil {
		return fmt.Errorf("start pulling from consumer %s: %w", c.CachedInfo().Name, err)
	}
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	for {
		m, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			// Missed heartbeats and the like are transient: the iterator keeps pulling. A deleted
			// consumer ends it: the next Next says it is closed.
			log.Warn("pulling messages", "consumer", c.CachedInfo().Name, "err", err)
			if ctx.Err() != nil {
				it.Stop()
				return nil
			}
			continue
		}
		handle(m)
	}
}

// awaitConsumer waits first, then until c exists again, backing off; false when ctx ended.
func awaitConsumer(ctx context.Context, c jetstream.Consumer, wait time.Duration, log *slog.Logger) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Info(ictx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Debug("waiting for consumer", "consumer", c.CachedInfo().Name, "err", err)
		wait = min(2*wait, maxRepullWait)
	}
}

func handleOne(ctx context.Context, m jetstream.Msg, o RunOptions, h Handler) {
	if o.Busy != nil {
		o.Busy(1)
		defer o.Busy(-1)
	}
	if o.InProgressEvery > 0 {
		t := time.NewTicker(o.InProgressEvery)
		done := make(chan struct{})
		defer func() { close(done); t.Stop() }()
		go func() {
			for {
				select {
				case <-done:
					return
				case <-t.C:
					_ = m.InProgress()
				}
			}
		}()
	}
	if !o.Unbounded && o.DeadLetters.overdue(m) {
		// Every delivery before ended without an ack decision: the handler crashed the process
		// or outlasted AckWait. Handling it once more may crash it again.
		o.DeadLetters.Send(ctx, m, ReasonNoOutcome, fmt.Errorf("delivered more than %d times without an outcome", o.DeadLetters.MaxDeliveries()), time.Second)
		return
	}
	defer func() {
		if v := recover(); v != nil {
			o.Logger.Error("message handler panicked; message dead-lettered", "subject", m.Subject(), "panic", v)
			o.DeadLetters.Send(ctx, m, ReasonPanic, fmt.Errorf("%w: %v", ErrPanic, v), time.Second)
			if o.OnPanic != nil {
				o.OnPanic(m, v)
			}
		}
	}()
	h(ctx, m)
}
