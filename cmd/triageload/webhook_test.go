package main

import (
	"testing"
	"time"

	"github.com/triaged/triaged"
)

// TestMemberOfIdentifiesWhatTriageStores: triaged identifies an alert by the fingerprint of its
// labels, not the sender's, so the load's groups must be read back from the labels an incident's
// member keeps. Reading the sent fingerprint back made every member of every storm a stray.
func TestMemberOfIdentifiesWhatTriageStores(t *testing.T) {
	w := storm{name: "T", groups: 3, perGroup: 6, perWebhook: 3}
	for _, ref := range w.plan(orderShuffled) {
		b, err := triaged.DecodeWebhook(w.group(ref.group).webhook(ref.first, w.perWebhook, time.Now()), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for k, a := range b.Split() {
			m := triaged.Member{Fingerprint: a.ID(), Labels: a.Labels} // as triage stores it
			id, i, ok := memberOf(m)
			if !ok || id != ref.group || i != ref.first+k {
				t.Errorf("memberOf(%v) = %d, %d, %v; want group %d, alert %d", m.Labels, id, i, ok, ref.group, ref.first+k)
			}
		}
	}
	for _, labels := range []map[string]string{
		{"instance": "host-1"},
		{"group": "g000001"},
		{"group": "x000001", "instance": "host-1"},
		{"group": "g000001", "instance": "db-1"},
		{"group": "g-1", "instance": "host-1"},
	} {
		if id, i, ok := memberOf(triaged.Member{Labels: labels}); ok {
			t.Errorf("memberOf(%v) = %d, %d, true; want not ok", labels, id, i)
		}
	}
}
