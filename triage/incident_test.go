package triage

import (
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
)

func TestDecideEvent(t *testing.T) {
	start := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	alert := func(status string, startsAt time.Time) *triaged.Alert {
		return &triaged.Alert{Alert: template.Alert{Status: status, Labels: template.KV{"alertname": "X"}, StartsAt: startsAt, Fingerprint: "00000000000000aa"}}
	}
	firing, resolved := alert(triaged.StatusFiring, start), alert(triaged.StatusResolved, start)
	reported := func(status string, classified triaged.Severity) *incident {
		return &incident{ID: firing.IncidentID(), Status: status, Severity: triaged.P1, Classified: classified, StartsAt: start}
	}
	tests := []struct {
		name       string
		alert      *triaged.Alert
		prev       *incident
		classified triaged.Severity
		event      triaged.Event
		skip       string
	}{
		{"first firing", firing, nil, triaged.P2, triaged.EventOpened, ""},
		{"duplicate firing", firing, reported(triaged.StatusFiring, triaged.P2), triaged.P2, "", skipDuplicate},
		{"duplicate firing compares the classified severity, not the escalated one", firing, reported(triaged.StatusFiring, triaged.P2), triaged.P2, "", skipDuplicate},
		{"changed severity", firing, reported(triaged.StatusFiring, triaged.P2), triaged.P3, triaged.EventUpdated, ""},
		{"resolution", resolved, reported(triaged.StatusFiring, triaged.P2), triaged.P2, triaged.EventResolved, ""},
		{"resolution never seen firing", resolved, nil, triaged.P2, triaged.EventResolved, ""},
		{"duplicate resolution", resolved, reported(triaged.StatusResolved, triaged.P2), triaged.P2, "", skipDuplicate},
		{"stale firing after resolution", firing, reported(triaged.StatusResolved, triaged.P2), triaged.P2, "", skipStale},
		{"new episode after resolution", alert(triaged.StatusFiring, start.Add(time.Hour)), reported(triaged.StatusResolved, triaged.P2), triaged.P2, triaged.EventOpened, ""},
		{"new episode while the old one looks open", alert(triaged.StatusFiring, start.Add(time.Hour)), reported(triaged.StatusFiring, triaged.P2), triaged.P2, triaged.EventOpened, ""},
		{"resolution of a new episode", alert(triaged.StatusResolved, start.Add(time.Hour)), reported(triaged.StatusResolved, triaged.P2), triaged.P2, triaged.EventResolved, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event, skip := decideEvent(tt.alert, tt.prev, tt.classified)
			if event != tt.event || skip != tt.skip {
				t.Errorf("decideEvent = (%q, %q), want (%q, %q)", event, skip, tt.event, tt.skip)
			}
		})
	}
}
