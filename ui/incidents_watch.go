package ui

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// watchRetry is the pause before a failed watch is started again.
const watchRetry = 2 * time.Second

// Watch keeps the index up to date with the incidents bucket, and its chat links with the
// deliveries bucket (nil: no links), until ctx is done. A watch that fails is started again: it
// delivers the bucket's contents anew, which the index takes as updates. It returns nil once ctx
// is done, so that a NATS outage never stops the daemon from here.
func (x *Index) Watch(ctx context.Context, incidents, deliveries jetstream.KeyValue, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	if deliveries != nil {
		wg.Go(func() {
			watchBucket(ctx, log, "deliveries", func(ctx context.Context) (jetstream.KeyWatcher, error) {
				return deliveries.WatchAll(ctx)
			}, x.Thread, nil)
		})
	}
	watchBucket(ctx, log, "incidents", func(ctx context.Context) (jetstream.KeyWatcher, error) {
		return incidents.WatchFiltered(ctx, []string{triaged.IncidentStatePrefix + ">", triaged.ArchivedIncidentKey(">")})
	}, x.Put, x.setLoaded)
	wg.Wait()
	return nil
}

// watchBucket hands every entry of a bucket's watch to put, and calls loaded (when not nil) once
// the bucket's contents have come, until ctx is done.
func watchBucket(ctx context.Context, log *slog.Logger, bucket string, watch func(context.Context) (jetstream.KeyWatcher, error),
	put func(key string, value []byte, deleted bool), loaded func()) {
	for ctx.Err() == nil {
		w, err := watch(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("web UI: watching a bucket failed; trying again", "bucket", bucket, "err", err, "retry", watchRetry)
			}
		} else {
			drain(ctx, w, put, loaded)
			_ = w.Stop()
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
}

func drain(ctx context.Context, w jetstream.KeyWatcher, put func(string, []byte, bool), loaded func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil { // the bucket's contents have all come; what follows are changes
				if loaded != nil {
					loaded()
				}
				continue
			}
			put(e.Key(), e.Value(), e.Operation() != jetstream.KeyValuePut)
		}
	}
}
