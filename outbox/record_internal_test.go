package outbox

import (
	"fmt"
	"testing"
	"time"

	"github.com/triaged/triaged"
)

// The gate keeps an incident's order: report n after n-1, waiting while an earlier report's
// attempt is live, and never delivering a report twice, not even while another attempt at it is
// live (its process lost a NATS node and, with it, the message).
func TestGate(t *testing.T) {
	now := time.Now()
	grace := 30 * time.Second
	live := &intent{ID: "i.2.updated", N: 2, Unsure: true, Due: now.Add(time.Second)}
	stale := &intent{ID: "i.2.updated", N: 2, Due: now.Add(-time.Minute)}
	retryDue := &intent{ID: "i.2.updated", N: 2, Unsure: true, Retry: true, Due: now.Add(time.Second)}
	for _, tt := range []struct {
		name string
		rec  record
		id   string
		n    int
		want verdict
	}{
		{"first report of a new incident", record{}, "i.1.opened", 1, deliverNow},
		{"next in order", record{Last: 1, Done: []done{{ID: "i.1.opened"}}}, "i.2.updated", 2, deliverNow},
		{"delivered already", record{Last: 1, Done: []done{{ID: "i.1.opened"}}}, "i.1.opened", 1, duplicate},
		{"a replayed dead letter", record{Last: 2, Done: []done{{ID: "i.1.opened", Skipped: true}}}, "i.1.opened", 1, deliverNow},
		{"a late report given up on", record{Last: 3, Done: []done{{ID: "i.1.opened"}, {ID: "i.3.updated"}}}, "i.2.updated", 2, deliverNow},
		{"older than the record remembers", record{Last: 300}, "i.100.updated", 100, duplicate},
		{"its own retry", record{Last: 1, Intent: retryDue}, "i.2.updated", 2, deliverNow},
		{"again while its attempt is live", record{Last: 1, Intent: live}, "i.2.updated", 2, waitAttempt},
		{"again while its attempt is live, the first report", record{Intent: &intent{ID: "i.1.opened", N: 1, Unsure: true, Due: now.Add(time.Second)}}, "i.1.opened", 1, waitAttempt},
		{"a replayed dead letter while its replay's attempt is live", record{Last: 2, Done: []done{{ID: "i.2.updated", Skipped: true}}, Intent: live}, "i.2.updated", 2, waitAttempt},
		{"again after its attempt is overdue", record{Last: 1, Intent: stale}, "i.2.updated", 2, deliverNow},
		{"behind a live attempt", record{Last: 1, Intent: live}, "i.3.updated", 3, waitTurn},
		{"behind a stale attempt", record{Last: 1, Intent: stale}, "i.3.updated", 3, waitGap},
		{"a gap with no attempt", record{Last: 1}, "i.3.updated", 3, waitGap},
		{"a later report first seen", record{}, "i.2.updated", 2, waitGap},
		{"no number in the id", record{Last: 5}, "weird", 0, deliverNow},
	} {
		if got := tt.rec.gate(tt.id, tt.n, now, grace); got != tt.want {
			t.Errorf("%s: gate = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestReportNumber(t *testing.T) {
	for _, tt := range []struct {
		id, inc string
		want    int
	}{
		{"checkout-3f2a.12.updated", "checkout-3f2a", 12},
		{"checkout-3f2a.1.opened", "checkout-3f2a", 1},
		{"other.1.opened", "checkout", 0},
		{"a.opened", "", 0},
		{"x.y.opened", "x", 0},
	} {
		if got := reportNumber(&triaged.Report{ID: tt.id, IncidentID: tt.inc}); got != tt.want {
			t.Errorf("reportNumber(%q, %q) = %d, want %d", tt.id, tt.inc, got, tt.want)
		}
	}
}

// The record remembers a bounded number of reports, oldest out first.
func TestAccountIsBounded(t *testing.T) {
	var r record
	r.Intent = &intent{ID: "i.250.updated", N: 250}
	for n := 1; n <= 250; n++ {
		r.account(fmt.Sprintf("i.%d.updated", n), n, false)
	}
	r.account("i.250.updated", 250, false)
	if len(r.Done) != triaged.MaxReports || r.Done[0].ID != "i.151.updated" || r.Last != 250 || r.Intent != nil {
		t.Errorf("after 251 reports: %d remembered, last %d, intent %v", len(r.Done), r.Last, r.Intent)
	}
}
