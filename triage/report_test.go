package triage_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/triage"
)

func TestBuildReportGolden(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 9, 0, 250_000_000, time.UTC)
	cls := triaged.Classification{
		Severity: triaged.P2, Rule: "prod-warning", RuleSetVersion: "0123456789ab",
		Decisions:  []triaged.Decision{{Stage: "classify", Rule: "prod-warning", Severity: triaged.P2, Reason: "severity=warning in env=prod"}},
		Impact:     triaged.Impact{FeatureDegraded: true},
		UserImpact: "Checkout slower for some users",
	}
	tests := []struct {
		file  string
		index int
		event triaged.Event
	}{
		{"firing-1-alert.json", 0, triaged.EventOpened},
		{"firing-3-alerts.json", 2, triaged.EventOpened},
		{"resolved-1-alert.json", 0, triaged.EventResolved},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("../testdata/alertmanager", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			batch, err := triaged.DecodeWebhook(body, now.Add(-200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			alerts := batch.Split()
			inc := triage.IncidentOf(batch.Group, alerts, now)
			rep := triage.BuildReport(inc, &alerts[tt.index], triaged.LabelledService(&alerts[tt.index]), cls, triaged.Enrichment{Pending: []string{"recent_changes", "probes", "logs"}}, tt.event, nil, now)
			compact, err := triaged.EncodeReport(rep)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := json.Indent(&out, compact, "", "  "); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "report."+strings.TrimSuffix(tt.file, ".json")+".json"), append(out.Bytes(), '\n'))
		})
	}
}

func TestReportLinksRefuseUntrustedSchemes(t *testing.T) {
	a := syntheticAlert(1)
	a.GeneratorURL = "javascript:alert(1)"
	a.Group.ExternalURL = "file:///etc/passwd"
	a.Annotations["runbook_url"] = "data:text/html,<script>"
	inc := triage.IncidentOf(a.Group, []triaged.Alert{a}, time.Now())
	rep := triage.BuildReport(inc, &a, triaged.LabelledService(&a), triaged.Classification{Severity: triaged.P4}, triaged.Enrichment{}, triaged.EventOpened, nil, time.Now())
	if rep.Links != (triaged.Links{}) || rep.Alerts[0].GeneratorURL != "" || rep.Runbook != nil {
		t.Fatalf("untrusted URLs reached the report: links %+v generator %q runbook %+v", rep.Links, rep.Alerts[0].GeneratorURL, rep.Runbook)
	}
	if !strings.Contains(strings.Join(rep.Pending, ","), "runbook") {
		t.Errorf("runbook not marked pending: %v", rep.Pending)
	}
}

func TestAlertRunbookKeepsLibrarySteps(t *testing.T) {
	a := syntheticAlert(2)
	a.Annotations["runbook_url"] = "https://runbooks.example.com/synthetic"
	lib := &triaged.Runbook{Title: "Service Down", Path: "runbooks/library/service-down.md", Steps: []string{"Check it runs", "Read its logs"}}
	inc := triage.IncidentOf(a.Group, []triaged.Alert{a}, time.Now())
	rep := triage.BuildReport(inc, &a, triaged.LabelledService(&a), triaged.Classification{Severity: triaged.P2}, triaged.Enrichment{Runbook: lib}, triaged.EventOpened, nil, time.Now())
	rb := rep.Runbook
	if rb == nil || rb.URL != "https://runbooks.example.com/synthetic" || len(rb.Steps) != 2 || rb.Path != lib.Path {
		t.Fatalf("runbook %+v: want the alert's URL with the library's steps", rb)
	}
	if len(rb.Why) == 0 || !strings.Contains(rb.Why[0], `library runbook "Service Down"`) {
		t.Errorf("why %v does not say where the steps come from", rb.Why)
	}
}
