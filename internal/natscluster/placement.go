package natscluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/internal/testkit"
)

// probeStream is the stream waitPlacement creates and deletes.
const probeStream = "NATSCLUSTER_PROBE"

// waitPlacement waits until the cluster can place a stream of three replicas. A meta leader
// that counts every peer current may still take one for offline until it has heard the peer's
// statistics, and refuse an R3 stream ("no suitable peers for placement") meanwhile.
func (c *Cluster) waitPlacement() {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.Timeout(2*time.Second))
	if err != nil {
		c.t.Fatalf("natscluster: connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatalf("natscluster: JetStream: %v", err)
	}
	var last error
	defer func() {
		if c.t.Failed() && last != nil {
			c.t.Logf("natscluster: last placement error: %v", last)
		}
	}()
	testkit.Eventually(c.t, readyWithin, "an R3 stream placed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, last = js.CreateStream(ctx, jetstream.StreamConfig{Name: probeStream, Subjects: []string{"natscluster.probe"}, Replicas: Size, Storage: jetstream.MemoryStorage})
		if last != nil {
			return false
		}
		last = js.DeleteStream(ctx, probeStream)
		return last == nil
	})
}
