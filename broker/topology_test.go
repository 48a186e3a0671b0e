package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
)

// Every stream and the bucket are bounded in bytes, and when full behave as documented: the
// streams take new messages and drop their oldest (a full alerts stream never refuses a
// webhook); the bucket refuses new keys but takes updates in place. Before, nothing was bounded.
func TestStreamsAndBucketAreBoundedInBytes(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	ctx := context.Background()
	if _, err := broker.Ensure(ctx, js, names, broker.DefaultTopologyOptions()); err != nil {
		t.Fatal(err)
	}
	// Smaller limits on a second start update the streams in place.
	o := broker.DefaultTopologyOptions()
	o.AlertsMaxBytes, o.ReportsMaxBytes, o.DeadLettersMaxBytes, o.IncidentsMaxBytes = 64<<10, 96<<10, 32<<10, 16<<10
	topo, err := broker.Ensure(ctx, js, names, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		stream jetstream.Stream
		bytes  int64
	}{{topo.Alerts, 64 << 10}, {topo.Reports, 96 << 10}, {topo.DeadLetters, 32 << 10}} {
		info, err := tt.stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.MaxBytes != tt.bytes || info.Config.Discard != jetstream.DiscardOld {
			t.Errorf("%s: max_bytes %d, discard %v; want %d, discard old", info.Config.Name, info.Config.MaxBytes, info.Config.Discard, tt.bytes)
		}
	}

	// A full alerts stream takes every webhook and drops its oldest messages.
	pub := broker.NewAlertPublisher(js, names)
	data := []byte(strings.Repeat("x", 8<<10))
	for i := range 20 {
		msg := triaged.AlertMessage{Group: "g", Status: triaged.StatusFiring, Alerts: 1, MsgID: fmt.Sprint(i), Data: data}
		if _, err := pub.PublishAlerts(ctx, []triaged.AlertMessage{msg}); err != nil {
			t.Fatalf("webhook %d refused by a full stream: %v", i, err)
		}
	}
	info, err := topo.Alerts.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > 64<<10 || info.State.LastSeq != 20 || info.State.FirstSeq == 1 {
		t.Errorf("alerts stream: %d bytes, messages %d..%d; want at most 64 KiB, the newest kept", info.State.Bytes, info.State.FirstSeq, info.State.LastSeq)
	}

	// A full bucket refuses a new incident and updates one in place.
	value := []byte(strings.Repeat("v", 4<<10))
	var full error
	keys := 0
	for ; keys < 10 && full == nil; keys++ {
		_, full = topo.Incidents.Put(ctx, fmt.Sprintf("g.%d", keys), value)
	}
	// 10077 is JetStream's "store failed", here for maximum bytes exceeded.
	if api := (*jetstream.APIError)(nil); !errors.As(full, &api) || api.ErrorCode != 10077 {
		t.Fatalf("10 incidents of 4 KiB in a bucket of 16 KiB: %v, want maximum bytes exceeded", full)
	}
	if _, err := topo.Incidents.Put(ctx, "g.0", value); err != nil {
		t.Errorf("updating an incident in a full bucket: %v", err)
	}
}

// JetStream reserves each stream's max_bytes: limits that the server's storage cannot hold stop
// the start with what to change.
func TestLimitsOverTheServersStorageSayWhatToChange(t *testing.T) {
	opts := natsserver.DefaultTestOptions
	opts.Port = -1
	opts.JetStream = true
	opts.StoreDir = t.TempDir()
	opts.JetStreamMaxStore = 2 << 30 // less than the defaults' 3.5 GiB
	ns := natsserver.RunServer(&opts)
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = broker.Ensure(context.Background(), js, broker.MustNames("triaged"), broker.DefaultTopologyOptions())
	if err == nil || !strings.Contains(err.Error(), "insufficient storage resources available (JetStream reserves every stream's max_bytes: lower nats.*_max_bytes") {
		t.Fatalf("Ensure: %v, want the reservation named", err)
	}
}
