package notify

import (
	"time"

	"github.com/triaged/triaged"
)

// The later reports of openedP1's incident, and the incident itself, for the reports of every
// event and the postmortem.

// resolvedP1 is the resolution of openedP1's incident: it carries the opening's evidence, so
// its candidate causes are the suspect deploys and the failed probe found then.
func resolvedP1() *triaged.Report {
	rep := updatedP1()
	end := t0.Add(42*time.Minute + 10*time.Second)
	rep.ID = "3f9a1c2b7d4e5f60-20260314T092653Z-resolved"
	rep.NextUpdateDue = nil
	rep.Event, rep.Status = triaged.EventResolved, triaged.ReportResolved
	rep.EndedAt = &end
	rep.ReceivedAt, rep.TriagedAt = end.Add(time.Second), end.Add(2*time.Second)
	rep.PostmortemDue = ptr(end.Add(5 * 24 * time.Hour))
	rep.Changes = []string{"the last 4 of 5 recovered (10.0.4.18:8080, 10.0.4.19:8080, 10.0.4.20:8080, 10.0.4.21:8080)"}
	rep.AlertsFiring, rep.AlertsResolved = 0, 5
	for i := range rep.Alerts {
		if rep.Alerts[i].EndsAt == nil {
			rep.Alerts[i].Status, rep.Alerts[i].EndsAt = triaged.StatusResolved, &end
		}
	}
	return rep
}

// reopenedP1 is openedP1's incident firing again 6 minutes after it resolved.
func reopenedP1() *triaged.Report {
	rep := openedP1()
	refired := t0.Add(48*time.Minute + 10*time.Second)
	rep.ID = "3f9a1c2b7d4e5f60-20260314T092653Z-reopened-1"
	rep.Event = triaged.EventReopened
	rep.StartedAt, rep.ReceivedAt, rep.TriagedAt = refired, refired.Add(20*time.Second), refired.Add(23*time.Second)
	rep.Deadlines = ptr(triaged.P1.Deadlines(refired))
	rep.AlertsFiring = 1
	rep.Changes = []string{"fired again 6m after it resolved at 2026-03-14T10:09:03Z", "1 alert firing again (10.0.4.18:8080)"}
	rep.Alerts = rep.Alerts[1:2]
	rep.Alerts[0].StartsAt = refired
	rep.Recurrence = "fired 8 times in the last 24h (median duration 30s, last resolved 6 min ago), from the incidents bucket"
	return rep
}

// flappingP2 is an update that marks an incident as flapping.
func flappingP2() *triaged.Report {
	rep := resolvedP2()
	rep.ID = "a1b2c3d4e5f60718-20260314T092653Z-updated-3"
	rep.Event, rep.Status, rep.EndedAt = triaged.EventUpdated, triaged.ReportInvestigating, nil
	rep.Flapping = true
	rep.FlapAdvice = "it resolved and fired again 6 times in 3m (every 30s); set for: 2m or keep_firing_for: 2m on the alerting rule OrdersErrorRateHigh"
	rep.Changes = []string{"resolved and fired again 6 times since 09:26:53Z"}
	rep.AlertsFiring = 1
	rep.Alerts[0].Status, rep.Alerts[0].EndsAt = triaged.StatusFiring, nil
	rep.OnCall = "erin"
	rep.TriagedAt = t0.Add(3 * time.Minute)
	return rep
}

// resolvedPendingP3 is the resolution of pendingP3's incident, whose deploys, probes, logs and
// runbook were never looked at: it must not read as if nothing had been found.
func resolvedPendingP3() *triaged.Report {
	rep := pendingP3()
	end := t0.Add(2*time.Hour + 3*time.Minute)
	rep.ID = "77c0ffee00000001-20260314T092653Z-resolved"
	rep.Event, rep.Status, rep.EndedAt = triaged.EventResolved, triaged.ReportResolved, &end
	rep.TriagedAt = end.Add(time.Second)
	rep.AlertsResolved = 1
	rep.Alerts[0].Status, rep.Alerts[0].EndsAt = triaged.StatusResolved, &end
	return rep
}

// checkoutIncident is the incident of openedP1, updatedP1 and resolvedP1, as the incidents
// bucket keeps it after the resolution, with those reports.
func checkoutIncident() (*triaged.Incident, []triaged.Report) {
	opened, updated, resolved := openedP1(), updatedP1(), resolvedP1()
	end := *resolved.EndedAt
	var members []triaged.Member
	for _, a := range resolved.Alerts {
		members = append(members, triaged.Member{
			Fingerprint: a.Fingerprint, Status: a.Status, Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL, Severity: a.Severity, Rule: a.Rule,
		})
	}
	inc := &triaged.Incident{
		ID:          opened.IncidentID,
		Key:         "triaged/{}:{alertname=\"CheckoutDown\"}",
		Receiver:    "triaged",
		GroupKey:    opened.GroupKey,
		GroupLabels: map[string]string{"alertname": "CheckoutDown"},
		ExternalURL: "http://alertmanager.example.com:9093",
		State:       triaged.IncidentResolved,
		Severity:    triaged.P1,
		Decisions:   opened.Decisions,
		Service:     triaged.Service{Name: "checkout", Environment: "production", From: "label service"},
		OpenedAt:    t0,
		ResolvedAt:  &end,
		UpdatedAt:   resolved.TriagedAt,
		Members:     members,
		Episodes:    []triaged.Episode{{Start: t0, End: &end}},
		Seq:         3,
		Evidence: &triaged.Enrichment{
			Changes: opened.RecentChanges, ChangesSummary: opened.RecentChangesSummary,
			Probes: opened.Probes, Logs: opened.Logs, Runbook: opened.Runbook,
		},
	}
	for _, r := range []*triaged.Report{opened, updated, resolved} {
		inc.Reports = append(inc.Reports, triaged.ReportRef{ID: r.ID, Event: r.Event, Severity: r.Severity, At: r.TriagedAt})
	}
	return inc, []triaged.Report{*opened, *updated, *resolved}
}
