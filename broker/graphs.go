package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// errCodeStoreFailed is JetStream's "store failed" (JSStreamStoreFailedF), which a bucket at its
// max_bytes answers with the description of server.ErrMaxBytes.
const errCodeStoreFailed jetstream.ErrorCode = 10077

// GraphStore keeps the incidents' PNG graphs in the graphs bucket (Names.GraphsBucket), each
// under triaged.GraphKey.
type GraphStore struct{ kv jetstream.KeyValue }

// NewGraphStore stores in kv, the graphs bucket of Ensure's Topology.
func NewGraphStore(kv jetstream.KeyValue) *GraphStore { return &GraphStore{kv: kv} }

// Put stores incident id's graph name. Its errors say in words why the graph was not stored:
// an invalid key, a full bucket (it refuses new graphs rather than drop others), a PNG larger
// than one NATS message, or NATS itself.
func (g *GraphStore) Put(ctx context.Context, id, name string, png []byte) error {
	key, err := triaged.GraphKey(id, name)
	if err != nil {
		return err
	}
	_, err = g.kv.Put(ctx, key, png)
	var api *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &api) && api.ErrorCode == errCodeStoreFailed && api.Description == server.ErrMaxBytes.Error():
		return fmt.Errorf("the graphs bucket %s is full (nats.graphs_max_bytes)", g.kv.Bucket())
	case errors.Is(err, nats.ErrMaxPayload) || errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
		return fmt.Errorf("the PNG's %d bytes are more than NATS takes in one message: %w", len(png), err)
	default:
		return fmt.Errorf("store in the graphs bucket %s: %w", g.kv.Bucket(), err)
	}
}
