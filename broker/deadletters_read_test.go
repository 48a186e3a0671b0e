package broker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
)

// TestDeadLetterStoreListsNewestFirstAndReplays lists a page of dead letters newest first,
// skipping a replayed one, and refuses to replay a foreign or missing one.
func TestDeadLetterStoreListsNewestFirstAndReplays(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	topo, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, origin := range []string{names.AlertSubject("firing"), "elsewhere.subject", names.AlertSubject("resolved"), names.DeadLetterSubject("x")} {
		h := nats.Header{}
		h.Set(broker.HeaderOriginSubject, origin)
		h.Set(broker.HeaderReason, broker.ReasonPanic)
		h.Set(broker.HeaderDeliveries, "3")
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: names.DeadLetterSubject(names.TriageConsumer()), Header: h, Data: []byte("payload of " + origin)}); err != nil {
			t.Fatal(err)
		}
	}
	store := broker.NewDeadLetterStore(js, names)

	r, err := store.Replay(ctx, 3)
	if err != nil || r.Stream != names.AlertsStream() || r.DeadLetter.Origin != names.AlertSubject("resolved") {
		t.Fatalf("replay 3: %+v, %v", r, err)
	}
	m, err := topo.Alerts.GetLastMsgForSubject(ctx, names.AlertSubject("resolved"))
	if err != nil || string(m.Data) != "payload of "+names.AlertSubject("resolved") {
		t.Fatalf("replayed message: %v %v", m, err)
	}
	for _, tc := range []struct {
		seq  uint64
		want error
	}{
		{3, broker.ErrNoDeadLetter},  // replayed just now
		{99, broker.ErrNoDeadLetter}, // never was
		{2, broker.ErrForeignOrigin}, // outside the prefix
		{4, broker.ErrForeignOrigin}, // the dead letters' own subjects
	} {
		if _, err := store.Replay(ctx, tc.seq); !errors.Is(err, tc.want) {
			t.Errorf("replay %d: %v, want %v", tc.seq, err, tc.want)
		}
	}

	for _, tc := range []struct {
		limit int
		want  []uint64
	}{
		{10, []uint64{4, 2, 1}},
		{2, []uint64{4, 2}},
	} {
		list, err := store.List(ctx, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, d := range list.Letters {
			got = append(got, d.Seq)
		}
		if list.Total != 3 || len(got) != len(tc.want) {
			t.Fatalf("limit %d: total %d, ids %v, want 3 and %v", tc.limit, list.Total, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("limit %d: ids %v, want %v", tc.limit, got, tc.want)
			}
		}
		if d := list.Letters[0]; d.Reason != broker.ReasonPanic || d.Deliveries != 3 || d.Time.IsZero() || d.Size == 0 {
			t.Errorf("dead letter %+v", d)
		}
	}
}
