package triage_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/rules"
	"github.com/triaged/triaged/triage"
)

// TestMonitoringPipelineAlertSaysOthersMayBeMissing: an alert about the monitoring pipeline,
// classified by the built-in rules, makes the report say that other alerts may be missing; an
// alert of another family does not.
func TestMonitoringPipelineAlertSaysOthersMayBeMissing(t *testing.T) {
	now := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		alertname string
		want      bool
	}{
		{"PrometheusNotConnectedToAlertmanagers", true},
		{"AlertmanagerFailedToSendAlerts", true},
		{"PrometheusRuleFailures", true},
		{"KubePodCrashLooping", false},
	} {
		t.Run(tt.alertname, func(t *testing.T) {
			a := syntheticAlert(1)
			a.Labels["alertname"], a.Labels["severity"] = tt.alertname, "warning"
			svc := triaged.LabelledService(&a)
			cls := rules.Default().Classify(&a, svc, now)
			inc := triage.IncidentOf(a.Group, []triaged.Alert{a}, now)
			rep := triage.BuildReport(inc, &a, svc, cls, triaged.Enrichment{}, triaged.EventOpened, nil, now)
			got := slices.ContainsFunc(rep.Observations, func(o string) bool { return strings.Contains(o, "other alerts may be missing") })
			if got != tt.want {
				t.Errorf("rule %s: observation 'other alerts may be missing' %t, want %t; observations %q", cls.Rule, got, tt.want, rep.Observations)
			}
		})
	}
}
