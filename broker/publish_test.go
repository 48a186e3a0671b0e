package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
)

// The publisher files each message by its status and stores its bytes untouched, once per MsgID.
func TestPublishAlertsStoresTheBytesOncePerMsgID(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	topo, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions())
	if err != nil {
		t.Fatal(err)
	}
	msgs := []triaged.AlertMessage{
		{Group: "aa", Status: triaged.StatusFiring, Alerts: 3, MsgID: "aa:firing:1", Data: []byte(`{"not":"looked at"}`)},
		{Group: "bb", Status: triaged.StatusResolved, Alerts: 2, MsgID: "bb:resolved:1", Data: []byte(`opaque bytes`)},
	}
	pub := broker.NewAlertPublisher(js, names)
	for i := range 2 {
		dups, err := pub.PublishAlerts(context.Background(), msgs)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{0, 5}[i]; dups != want {
			t.Errorf("round %d: %d alerts in duplicates, want %d", i+1, dups, want)
		}
	}
	info, err := topo.Alerts.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages after publishing 2 twice, want 2", info.State.Msgs)
	}
	for seq, want := range msgs {
		got, err := topo.Alerts.GetMsg(context.Background(), uint64(seq+1))
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != names.AlertSubject(want.Status) || string(got.Data) != string(want.Data) {
			t.Errorf("message %d: %s %q, want %s %q", seq+1, got.Subject, got.Data, names.AlertSubject(want.Status), want.Data)
		}
	}
}

func TestPublishAlertsNamesTheGroupItCouldNotStore(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	// No streams: nothing can be stored.
	pub := broker.NewAlertPublisher(js, broker.MustNames("triaged"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pub.PublishAlerts(ctx, []triaged.AlertMessage{{Group: "{}:{alertname=\"X\"}", Status: triaged.StatusFiring, MsgID: "x", Data: []byte(`{}`)}})
	if err == nil || !strings.Contains(err.Error(), `publish notification of group {}:{alertname="X"}`) {
		t.Fatalf("err = %v, want it to name the group", err)
	}
}

// TestPublishAlertsFailsAtOnceWhenDisconnected: with NATS gone, the webhook's 503 says so at
// once, instead of waiting for acknowledgements that cannot come.
func TestPublishAlertsFailsAtOnceWhenDisconnected(t *testing.T) {
	ns := natstest.Server(t)
	nc, js := natstest.Connect(t, ns)
	pub := broker.NewAlertPublisher(js, broker.MustNames("triaged"))
	nc.Close()
	_, err := pub.PublishAlerts(context.Background(), []triaged.AlertMessage{{Group: "g", Status: triaged.StatusFiring, MsgID: "x", Data: []byte(`{}`)}})
	if err == nil || !strings.Contains(err.Error(), "NATS not connected (CLOSED)") {
		t.Fatalf("err = %v, want NATS not connected", err)
	}
}
