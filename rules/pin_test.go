package rules_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/rules"
)

// An alert classified just before a reload must be escalated by the rules that classified it.
func TestEscalateUsesTheRuleSetThatClassified(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.yml")
	write := func(escalateTo string) {
		content := "default: P4\nrules: []\nescalations:\n  - name: raise\n    when: alertname == \"X\"\n    severity: " + escalateTo + "\n"
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("P2")
	e, err := rules.NewEngine([]string{file}, rules.EngineOptions{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	a := &triaged.Alert{Alert: template.Alert{Status: "firing", Labels: template.KV{"alertname": "X"}, StartsAt: time.Now()}}
	c := e.Classify(a, triaged.LabelledService(a), time.Now())

	write("P1")
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	got := e.Escalate(c, a, triaged.LabelledService(a), triaged.Enrichment{}, time.Now())
	if got.Severity != triaged.P2 || got.RuleSetVersion != c.RuleSetVersion {
		t.Fatalf("escalated to %s by rules %s; want P2 by the classifying rules %s", got.Severity, got.RuleSetVersion, c.RuleSetVersion)
	}
	fresh := e.Escalate(e.Classify(a, triaged.LabelledService(a), time.Now()), a, triaged.LabelledService(a), triaged.Enrichment{}, time.Now())
	if fresh.Severity != triaged.P1 {
		t.Fatalf("after the reload a new alert escalates to %s, want P1", fresh.Severity)
	}
}
