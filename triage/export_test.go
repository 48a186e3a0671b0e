package triage

import (
	"time"

	"github.com/triaged/triaged"
)

// IncidentOf is the incident of the group with these alerts as its members, as the worker keeps
// it after they arrived: open while any fires, resolved otherwise. Each member is classified P3.
func IncidentOf(g triaged.Group, alerts []triaged.Alert, now time.Time) *triaged.Incident {
	in := make([]arrival, len(alerts))
	for i := range alerts {
		in[i] = arrival{alert: &alerts[i], cls: triaged.Classification{Severity: triaged.P3, Rule: "test"}}
	}
	inc := &triaged.Incident{Key: DefaultPolicy().key(g, in[0].alert), Receiver: g.Receiver, GroupKey: g.Key, GroupLabels: g.Labels, ExternalURL: g.ExternalURL, State: triaged.IncidentOpen, UpdatedAt: now}
	DefaultPolicy().upsert(inc, in)
	inc.OpenedAt = alerts[0].StartsAt.UTC()
	inc.ID = incidentID(inc, in)
	inc.Seq = 1
	if !anyFiring(inc) {
		inc.State, inc.ResolvedAt = triaged.IncidentResolved, at(latestEnd(inc, now))
	}
	return inc
}
