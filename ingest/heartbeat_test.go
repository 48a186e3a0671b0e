package ingest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/ingest"
	"github.com/triaged/triaged/internal/natstest"
)

// The Heartbeats hook sees each webhook before it is stored: what it takes out is not stored, a
// webhook it takes everything from stores nothing and still gets 200, and its failure is a 503
// with nothing stored, for Alertmanager to retry.
func TestHeartbeatsAreTakenAtTheDoor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		take   int // alerts the hook takes out
		err    error
		code   int
		stored uint64
	}{
		{"none taken", 0, nil, http.StatusOK, 1},
		{"one of three taken", 1, nil, http.StatusOK, 1},
		{"all taken", 3, nil, http.StatusOK, 0},
		{"hook failed", 1, errors.New("bucket unavailable"), http.StatusServiceUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := natstest.Server(t)
			_, js := natstest.Connect(t, ns)
			names := broker.MustNames("triaged")
			topo, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions())
			if err != nil {
				t.Fatal(err)
			}
			h := ingest.NewAlertsHandler(broker.NewAlertPublisher(js, names), ingest.Options{
				MaxBodyBytes: 8 << 10, Registerer: prometheus.NewRegistry(),
				Heartbeats: func(_ context.Context, b *triaged.Batch) error {
					if tc.err != nil {
						return tc.err
					}
					b.Alerts = b.Alerts[tc.take:]
					return nil
				},
			})
			rec := post(h, http.MethodPost, "application/json", payload(t, "firing-3-alerts.json"))
			if rec.Code != tc.code {
				t.Fatalf("code %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if got := storedMessages(t, topo.Alerts); got != tc.stored {
				t.Errorf("%d messages stored, want %d", got, tc.stored)
			}
		})
	}
}
