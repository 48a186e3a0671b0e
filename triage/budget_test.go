package triage_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/triage"
)

// TestReportBoundsWhatGrows builds reports of what can grow without bound — group labels, the
// deploys of a service — and checks each part is bounded, says so, and the whole fits the budget.
func TestReportBoundsWhatGrows(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 9, 0, 0, time.UTC)
	many := map[string]string{"alertname": "Synthetic"}
	for i := range 64 {
		many[fmt.Sprintf("label_%02d", i)] = strings.Repeat("v/", 100)
	}
	var flood []triaged.Change
	for i := range 6000 {
		flood = append(flood, triaged.Change{Service: "svc", Version: fmt.Sprintf("v1.%d", i), Time: now.Add(-time.Duration(i) * time.Second)})
	}
	tests := []struct {
		name        string
		groupLabels map[string]string
		enr         triaged.Enrichment
		links       bool   // silence and Alertmanager links made
		omitted     string // Links.Omitted starts so
		changes     int
		dropped     int
	}{
		{"plain group", map[string]string{"alertname": "Synthetic"}, triaged.Enrichment{}, true, "", 0, 0},
		{"a 700 KB group label", map[string]string{"alertname": "Synthetic", "blob": strings.Repeat("x/y=", 700<<10/4)}, triaged.Enrichment{}, false,
			"no Alertmanager or silence link: label blob is too long for a filter (1024 bytes or more)", 0, 0},
		{"a group label cut when it was kept", map[string]string{"alertname": "Synthetic", "blob": triaged.CutString(strings.Repeat("a", 2000), 1024)}, triaged.Enrichment{}, false,
			"no Alertmanager or silence link: label blob is too long for a filter", 0, 0},
		{"a filter too long for a link", many, triaged.Enrichment{}, false, "no Alertmanager or silence link: the filter of 65 labels makes a link of", 0, 0},
		{"6,000 deploys", map[string]string{"alertname": "Synthetic"}, triaged.Enrichment{Changes: flood}, true, "", triaged.MaxReportChanges, 6000 - triaged.MaxReportChanges},
		{"deploys the enricher already counted out", map[string]string{"alertname": "Synthetic"}, triaged.Enrichment{Changes: flood[:triaged.MaxReportChanges], ChangesOmitted: 12}, true, "", triaged.MaxReportChanges, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := syntheticAlert(1)
			a.Group.ExternalURL, a.Group.Labels = "http://am.example.com:9093", tt.groupLabels
			inc := triage.IncidentOf(a.Group, []triaged.Alert{a}, now)
			rep := triage.BuildReport(inc, &a, triaged.LabelledService(&a), triaged.Classification{Severity: triaged.P2}, tt.enr, triaged.EventOpened, nil, now)
			if made := rep.Links.Silence != "" && rep.Links.Alertmanager != ""; made != tt.links {
				t.Errorf("links made %v, want %v: %.200q", made, tt.links, rep.Links.Silence)
			}
			if !strings.HasPrefix(rep.Links.Omitted, tt.omitted) || (tt.omitted == "") != (rep.Links.Omitted == "") {
				t.Errorf("links omitted %q, want %q", rep.Links.Omitted, tt.omitted)
			}
			if len(rep.RecentChanges) != tt.changes || rep.RecentChangesOmitted != tt.dropped {
				t.Errorf("%d changes listed, %d omitted; want %d, %d", len(rep.RecentChanges), rep.RecentChangesOmitted, tt.changes, tt.dropped)
			}
			if tt.changes > 0 && rep.RecentChanges[0].Version != "v1.0" {
				t.Errorf("first change listed %s, want the nearest, v1.0", rep.RecentChanges[0].Version)
			}
			data, _, err := triaged.EncodeReportWithin(rep, triaged.DefaultReportMaxBytes)
			if err != nil || len(data) > triaged.DefaultReportMaxBytes {
				t.Errorf("encoded report %d bytes (%v), over the budget", len(data), err)
			}
		})
	}
}
