package triaged_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
)

func TestSeverities(t *testing.T) {
	tests := []struct {
		in       string
		want     triaged.Severity
		name     string
		respond  string
		duration time.Duration
	}{
		{"P1", triaged.P1, "CRITICAL", "< 15 min", 15 * time.Minute},
		{"p2", triaged.P2, "HIGH", "< 1 hour", time.Hour},
		{"P3", triaged.P3, "MEDIUM", "< 4 hours", 4 * time.Hour},
		{"P4", triaged.P4, "LOW", "< 24 hours", 24 * time.Hour},
	}
	for _, tt := range tests {
		s, err := triaged.ParseSeverity(tt.in)
		if err != nil || s != tt.want || s.Name() != tt.name || s.ResponseTimeText() != tt.respond || s.ResponseTime() != tt.duration {
			t.Errorf("%s: got %v %s %q %v (err %v)", tt.in, s, s.Name(), s.ResponseTimeText(), s.ResponseTime(), err)
		}
	}
	for _, bad := range []string{"", "P0", "P5", "P12", "critical", "1"} {
		if _, err := triaged.ParseSeverity(bad); err == nil || !strings.Contains(err.Error(), "want one of P1, P2, P3, P4") {
			t.Errorf("ParseSeverity(%q) = %v, want an error listing the levels", bad, err)
		}
	}
	var zero triaged.Severity
	if zero.Valid() || zero.Name() != "UNKNOWN" {
		t.Errorf("the zero severity must not pass for a level")
	}
	if _, err := json.Marshal(zero); err == nil {
		t.Errorf("marshalling the zero severity must fail")
	}
	var s triaged.Severity
	if err := json.Unmarshal([]byte(`"P2"`), &s); err != nil || s != triaged.P2 {
		t.Errorf("unmarshal P2: %v %v", s, err)
	}
}

func TestAlertIdentity(t *testing.T) {
	a := triaged.Alert{Alert: template.Alert{
		Status:   "firing",
		Labels:   template.KV{"alertname": "AlwaysFiring", "cluster": "peers-local", "env": "prod", "service": "checkout", "severity": "warning", "team": "shop"},
		StartsAt: time.Date(2026, 11, 26, 15, 8, 31, 882e6, time.UTC),
	}}
	// Alertmanager's own fingerprint of these labels (testdata/alertmanager/firing-1-alert.json).
	if got := a.ID(); got != "47415a294d251630" {
		t.Fatalf("fingerprint from labels %q, want Alertmanager's 47415a294d251630", got)
	}
	a.Fingerprint = "0000000000000001" // what a sender claims is not the identity
	if got, want := a.MsgID(), "47415a294d251630:firing:2026-11-26T15:08:31.882Z"; got != want {
		t.Errorf("MsgID %q, want %q", got, want)
	}
	if got, want := a.IncidentID(), "47415a294d251630-20261126T150831Z"; got != want {
		t.Errorf("IncidentID %q, want %q", got, want)
	}
	a.Status = "resolved"
	if !strings.Contains(a.MsgID(), ":resolved:") || !a.Resolved() {
		t.Errorf("a resolution must have its own message id: %s", a.MsgID())
	}
}
