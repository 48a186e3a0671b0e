package history_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/internal/natstest"
)

func record(i int, at time.Time) history.Record {
	return history.Record{
		Kind: history.KindAlert, At: at,
		Alert: triaged.Alert{Alert: template.Alert{Status: "firing", Labels: template.KV{"alertname": fmt.Sprintf("A%d", i)}}},
		Group: "g", Severity: triaged.P3, Rule: "r", RuleSetVersion: "v1",
	}
}

// Read hands over every record from since on, in order, and stops at its limit saying so.
func TestReadFromATime(t *testing.T) {
	ctx := context.Background()
	_, js := natstest.Connect(t, natstest.Server(t))
	n := broker.MustNames("triaged")
	if _, err := broker.Ensure(ctx, js, n, broker.DefaultTopologyOptions()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var recs []history.Record
	for i := range 2500 {
		recs = append(recs, record(i, t0.Add(time.Duration(i)*time.Second)))
	}
	if err := history.Append(ctx, js, n, recs...); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		limit     int
		want      int
		truncated bool
	}{
		{"all", 0, 2500, false},
		{"limited", 1200, 1200, true},
		{"limit above the count", 3000, 2500, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			st, err := history.Read(ctx, js, n, time.Now().Add(-time.Hour), tc.limit, func(r history.Record) error {
				got = append(got, r.Alert.Labels["alertname"])
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Records != tc.want || len(got) != tc.want || st.Truncated != tc.truncated {
				t.Fatalf("read %d (stats %+v), want %d truncated=%v", len(got), st, tc.want, tc.truncated)
			}
			for i, name := range got {
				if want := fmt.Sprintf("A%d", i); name != want {
					t.Fatalf("record %d is %s, want %s: out of order", i, name, want)
				}
			}
			if !st.First.Equal(t0) || !st.Last.Equal(t0.Add(time.Duration(tc.want-1)*time.Second)) {
				t.Errorf("first %v last %v", st.First, st.Last)
			}
		})
	}
	// A start after every record reads nothing; ErrStop ends early without an error.
	if st, err := history.Read(ctx, js, n, time.Now().Add(time.Hour), 0, func(history.Record) error { return nil }); err != nil || st.Records != 0 {
		t.Errorf("read from the future: %+v %v", st, err)
	}
	st, err := history.Read(ctx, js, n, time.Time{}, 0, func(history.Record) error { return history.ErrStop })
	if err != nil || st.Records != 1 {
		t.Errorf("stopped read: %+v %v", st, err)
	}
	boom := errors.New("boom")
	if _, err := history.Read(ctx, js, n, time.Time{}, 0, func(history.Record) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("callback error: %v", err)
	}
	if p, err := history.Pending(ctx, js, n, time.Time{}); err != nil || p != 2500 {
		t.Errorf("Pending = %d, %v", p, err)
	}
}

func TestDecodeRefusesANewerSchema(t *testing.T) {
	if _, err := history.Decode([]byte(`{"v":99,"kind":"alert"}`)); err == nil {
		t.Fatal("a newer schema decoded")
	}
	r := record(1, time.Unix(0, 0).UTC())
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := history.Decode(data)
	if err != nil || back.V != history.SchemaVersion || back.Alert.Labels["alertname"] != "A1" || back.Severity != triaged.P3 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}
