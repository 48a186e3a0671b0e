package history_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
)

// Write stores a record once per id, and counts what it cannot store instead of failing.
func TestWriterStoresOncePerIDAndCountsFailures(t *testing.T) {
	ctx := context.Background()
	ns := natstest.Server(t)
	nc, js := natstest.Connect(t, ns)
	n := broker.MustNames("triaged")
	if _, err := broker.Ensure(ctx, js, n, broker.DefaultTopologyOptions()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	w, err := history.NewWriter(nc, n, history.WriterOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	rec := record(1, at)
	w.Write("a:1", &rec)
	w.Write("a:1", &rec) // a redelivery
	w.Write("a:2", &rec)
	huge := record(3, at)
	huge.Alert.Annotations = template.KV{"description": strings.Repeat("x", int(nc.MaxPayload()))}
	w.Write("a:3", &huge)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "two records stored", func() bool {
		return metrictest.Value(t, reg, "triaged_history_records_total", "kind", history.KindAlert) == 2
	})
	if got := metrictest.Value(t, reg, "triaged_history_write_failures_total", "reason", history.ReasonEncode); got != 1 {
		t.Errorf("failures{reason=encode} = %v, want 1 (the record over the max payload)", got)
	}
	st, err := history.Read(ctx, js, n, time.Time{}, 0, func(r history.Record) error {
		if r.Kind != history.KindAlert || r.Severity != triaged.P3 {
			t.Errorf("read %+v", r)
		}
		return nil
	})
	if err != nil || st.Records != 2 {
		t.Errorf("read %d records (%v), want 2", st.Records, err)
	}
}
