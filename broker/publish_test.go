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
		{AlertID: "aa", Status: triaged.StatusFiring, MsgID: "aa:firing:1", Data: []byte(`{"not":"looked at"}`)},
		{AlertID: "bb", Status: triaged.StatusResolved, MsgID: "bb:resolved:1", Data: []byte(`opaque bytes`)},
	}
	pub := broker.NewAlertPublisher(js, names)
	for range 2 {
		if err := pub.PublishAlerts(context.Background(), msgs); err != nil {
			t.Fatal(err)
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

func TestPublishAlertsNamesTheAlertItCouldNotStore(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	// No streams: nothing can be stored.
	pub := broker.NewAlertPublisher(js, broker.MustNames("triaged"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := pub.PublishAlerts(ctx, []triaged.AlertMessage{{AlertID: "47415a294d251630", Status: triaged.StatusFiring, MsgID: "x", Data: []byte(`{}`)}})
	if err == nil || !strings.Contains(err.Error(), "publish alert 47415a294d251630") {
		t.Fatalf("err = %v, want it to name alert 47415a294d251630", err)
	}
}
