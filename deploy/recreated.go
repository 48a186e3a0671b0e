package deploy

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// errRecreated ends a read of the deploys stream that was deleted and created again (by hand,
// by the self-healing of a running triaged, by a NATS server that lost its data).
var errRecreated = errors.New("deploys stream recreated")

// recreatedCheckEvery is how often the index looks at whether its stream is still the one it reads.
const recreatedCheckEvery = time.Second

// watchRecreated calls stop once stream is found to be another stream of the same name (created
// later), which the ordered consumer does not notice when it happened while it was disconnected.
func watchRecreated(ctx context.Context, stream jetstream.Stream, stop func()) {
	created := stream.CachedInfo().Created
	t := time.NewTicker(recreatedCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		info, err := stream.Info(ctx)
		if err != nil || info.Created.Equal(created) {
			continue // missing or unreachable: it may come back, and is then looked at again
		}
		stop()
		return
	}
}
