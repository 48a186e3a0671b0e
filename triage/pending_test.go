package triage_test

import (
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
)

// The backlog gauges carry the time they were last read from NATS, so a dashboard can tell a
// backlog of 0 from a gauge that stopped being updated (NATS unreachable, consumer deleted).
func TestPendingGaugeSaysWhenItWasRead(t *testing.T) {
	e := newEnv(t)
	before := time.Now().Add(-time.Second)
	_, _, reg := e.startWorker(t, newClassifier(triaged.P2), 1)
	const name = "triaged_consumer_pending_last_update_timestamp_seconds"
	testkit.Eventually(t, 5*time.Second, name+" set", func() bool {
		return metrictest.Value(t, reg, name) > 0
	})
	if got := metrictest.Value(t, reg, "triaged_alerts_dropped_untriaged_total"); got != 0 {
		t.Errorf("triaged_alerts_dropped_untriaged_total = %v with nothing dropped", got)
	}
	at := time.Unix(int64(metrictest.Value(t, reg, name)), 0)
	if at.Before(before.Truncate(time.Second)) || at.After(time.Now()) {
		t.Errorf("%s = %v, want the time of the last read", name, at)
	}
}
