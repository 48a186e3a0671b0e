package rules

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/testkit"
)

// TestReloadRefusesCostlyRules: a rule whose cost grows with the alert (the repeat() that ran
// the daemon out of memory) is refused on reload as at start: the whole file, with the place of
// the call, and the rules in use stay.
func TestReloadRefusesCostlyRules(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "rules.yml", "default: P3\nrules:\n  - {name: x, when: 'labels.x == \"y\"', severity: P2}\n")
	reg := prometheus.NewRegistry()
	e, err := NewEngine([]string{path}, EngineOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	version := e.Current().Version()

	writeFile(t, dir, "rules.yml", "default: P3\nrules:\n  - {name: fine, when: 'labels.y == \"z\"', severity: P1}\n  - name: x\n    when: repeat(labels.x, 1000000) == \"y\"\n    severity: P2\n")
	err = e.Reload()
	want := path + `:5:11: rule "x": when: repeat() is not allowed in rules: its cost grows with its input (1:1)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("reload: got %v, want %q", err, want)
	}
	if e.Current().Version() != version || len(e.Current().Rules(StageClassify)) != 1 {
		t.Error("a refused file was partly applied")
	}
	if got := testutil.ToFloat64(e.metrics.reloadSuccessful); got != 0 {
		t.Errorf("reload successful = %v", got)
	}
}

// TestCostlyRulesOverAHugeLabel: allowed rules that meet a hostile label stay within their
// budgets; those that exceed one fail, are counted and logged, and the alert is classified by
// the rules after them.
func TestCostlyRulesOverAHugeLabel(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "rules.yml", `
default: P4
rules:
  - name: split-parts
    when: any(split(labels.blob, ","), {# == "needle"})
    severity: P1
  - name: budget
    when: let n = len(labels.blob); any(1..1000, {len(1..1000) == n})
    severity: P1
  - name: concatenated
    when: (labels.blob + labels.blob) contains "needle"
    severity: P1
  - name: upper-values
    when: any(values(labels), {upper(#) contains "NEEDLE"})
    severity: P1
  - name: catch
    when: alertname == "Huge"
    severity: P2
`)
	reg := prometheus.NewRegistry()
	var logs testkit.SyncBuffer
	e, err := NewEngine([]string{path}, EngineOptions{Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a := alert("Huge", "blob", strings.Repeat("a,", 1<<19)) // 1 MiB of commas
	c := e.Classify(a, triaged.LabelledService(a), evalTime)
	if c.Severity != triaged.P2 || c.Rule != "catch" {
		t.Errorf("classified %v by %q, want P2 by catch", c.Severity, c.Rule)
	}
	want := `
# HELP triaged_rule_evaluation_failures_total Rule evaluations that failed at run time; the rule was skipped.
# TYPE triaged_rule_evaluation_failures_total counter
triaged_rule_evaluation_failures_total{rule="budget",stage="classify"} 1
triaged_rule_evaluation_failures_total{rule="catch",stage="classify"} 0
triaged_rule_evaluation_failures_total{rule="concatenated",stage="classify"} 0
triaged_rule_evaluation_failures_total{rule="split-parts",stage="classify"} 1
triaged_rule_evaluation_failures_total{rule="upper-values",stage="classify"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "triaged_rule_evaluation_failures_total"); err != nil {
		t.Error(err)
	}
	for _, msg := range []string{"split() yields more than 1000 parts", "memory budget exceeded"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("%q not logged:\n%.2000s", msg, logs.String())
		}
	}
}

// TestReadmeCostLimits: the documented bounds are the ones in force.
func TestReadmeCostLimits(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("more than %s elements (`rules.MaxRange`)", thousands(MaxRange)),
		fmt.Sprintf("more than %d times (`rules.MaxGrowth`)", MaxGrowth),
		fmt.Sprintf("at most %s parts (`rules.MaxSplit`)", thousands(MaxSplit)),
		fmt.Sprintf("at most %s elements of lists and maps\n  (`rules.MemoryBudget`", thousands(MemoryBudget)),
		fmt.Sprintf("at most %d nodes (`rules.MaxNodes`)", MaxNodes),
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
}

// thousands writes n with commas: 1,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestLintSeesThroughBoundedSplit: split() is a function of exprpolicy's, not a read of the
// alert, so a condition over literals alone is still found constant.
func TestLintSeesThroughBoundedSplit(t *testing.T) {
	rs := mustParse(t, "default: P3\nrules:\n  - {name: never, when: 'len(split(\"a,b\", \",\")) == 3', severity: P1}\n")
	ws := rs.Warnings()
	if len(ws) != 1 || ws[0].Message != "never matches: its condition is always false" {
		t.Errorf("warnings %v", ws)
	}
}
