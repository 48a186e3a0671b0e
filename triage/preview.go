package triage

import (
	"time"

	"github.com/triaged/triaged"
)

// PreviewReport is the report alert a would open an incident of its own with, before
// enrichment: the incident's fields that the service svc and the rules' decision cls give, built
// by BuildReport as the worker builds them. It is what `triagetool route` routes a captured
// webhook's alerts by.
func PreviewReport(a *triaged.Alert, svc triaged.Service, cls triaged.Classification, now time.Time) *triaged.Report {
	inc := &triaged.Incident{
		ID: a.IncidentID(), Receiver: a.Group.Receiver, GroupKey: a.Group.Key, GroupLabels: a.Group.Labels,
		ExternalURL: a.Group.ExternalURL, State: triaged.IncidentOpen, Severity: cls.Severity, Decisions: cls.Decisions,
		Service: svc, OpenedAt: a.StartsAt.UTC(), UpdatedAt: now,
		Members: []triaged.Member{member(arrival{alert: a, cls: cls})},
	}
	return BuildReport(inc, a, svc, cls, triaged.Enrichment{}, triaged.EventOpened, nil, now)
}
