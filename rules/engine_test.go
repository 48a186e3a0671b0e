package rules

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/testkit"
)

const (
	rulesV1 = "default: P4\nrules:\n  - {name: a-v1, when: 'alertname == \"A\"', severity: P1}\n"
	rulesV2 = "default: P4\nrules:\n  - {name: a-v2, when: 'alertname == \"A\"', severity: P2}\n"
	broken  = "default: P4\nrules:\n  - {name: a-v3, when: 'alertname = \"A\"', severity: P1}\n"
)

func versionOf(t *testing.T, text string) string {
	t.Helper()
	return mustParse(t, text).Version()
}

// TestReloadWhileClassifying reloads a broken file while goroutines classify: the old rules keep
// deciding, the reload metric says 0, and a fixed file brings it back to 1. Every classification
// comes from one rule set, never a mix (its rule and its version agree). Run it with -race.
func TestReloadWhileClassifying(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "rules.yml", rulesV1)
	reg := prometheus.NewRegistry()
	var logs testkit.SyncBuffer
	e, err := NewEngine([]string{path}, EngineOptions{Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := versionOf(t, rulesV1), versionOf(t, rulesV2)
	wantRule := map[string]string{v1: "a-v1", v2: "a-v2"}
	successful := e.metrics.reloadSuccessful
	if got := testutil.ToFloat64(successful); got != 1 {
		t.Fatalf("after the first load, last_reload_successful = %v", got)
	}
	firstLoad := testutil.ToFloat64(e.metrics.reloadTimestamp)
	if firstLoad < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("success timestamp %v", firstLoad)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var classified, mixed atomic.Int64
	var seen sync.Map
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := e.Classify(alert("A"), triaged.LabelledService(alert("A")), evalTime)
				classified.Add(1)
				seen.Store(c.RuleSetVersion, true)
				if wantRule[c.RuleSetVersion] != c.Rule {
					mixed.Add(1)
				}
			}
		})
	}
	waitFor := func(n int64) {
		t.Helper()
		start := classified.Load()
		testkit.Eventually(t, 10*time.Second, fmt.Sprintf("%d more classifications", n), func() bool { return classified.Load() >= start+n })
	}
	waitFor(100)

	writeFile(t, dir, "rules.yml", broken)
	err = e.Reload()
	if err == nil || !strings.Contains(err.Error(), "rules.yml:3:") {
		t.Fatalf("reload of a broken file: %v", err)
	}
	if got := testutil.ToFloat64(successful); got != 0 {
		t.Errorf("after a failed reload, last_reload_successful = %v", got)
	}
	if got := testutil.ToFloat64(e.metrics.reloadTimestamp); got != firstLoad {
		t.Errorf("a failed reload moved the success timestamp: %v", got)
	}
	if e.Current().Version() != v1 {
		t.Errorf("after a failed reload the version is %s, want the old %s", e.Current().Version(), v1)
	}
	waitFor(100)
	if c := e.Classify(alert("A"), triaged.LabelledService(alert("A")), evalTime); c.Rule != "a-v1" {
		t.Errorf("after a failed reload, classified by %q", c.Rule)
	}

	writeFile(t, dir, "rules.yml", rulesV2)
	if err := e.Reload(); err != nil {
		t.Fatalf("reload of a fixed file: %v", err)
	}
	if got := testutil.ToFloat64(successful); got != 1 {
		t.Errorf("after a fixed reload, last_reload_successful = %v", got)
	}
	waitFor(100)
	close(stop)
	wg.Wait()

	if c := e.Classify(alert("A"), triaged.LabelledService(alert("A")), evalTime); c.Rule != "a-v2" || c.RuleSetVersion != v2 {
		t.Errorf("after the fixed reload: %q from %s", c.Rule, c.RuleSetVersion)
	}
	if n := mixed.Load(); n > 0 {
		t.Errorf("%d of %d classifications mixed two rule sets", n, classified.Load())
	}
	if _, ok := seen.Load(v1); !ok {
		t.Error("no classification by the old rules")
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="reloading rules failed, keeping the current rules"`) {
		t.Errorf("the failed reload was not logged:\n%s", logs.String())
	}

	// Only the current version is exported, and only the current rules' series.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP triaged_rules_info The rule set in use: version is the content hash that reports carry. Always 1.
# TYPE triaged_rules_info gauge
triaged_rules_info{version="`+v2+`"} 1
`), "triaged_rules_info"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(e.metrics.matches); n != 2 { // a-v2 and default
		t.Errorf("%d match series, want 2 (a-v1 deleted)", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

func TestEngineCounts(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "rules.yml", failingRules+`
escalations:
  - {name: up, when: 'len(failed_probes) > 0', severity: raise(1)}
  - {name: broken, when: 'failed_probes[3].ok', severity: P1}
`)
	reg := prometheus.NewRegistry()
	var logs testkit.SyncBuffer
	e, err := NewEngine([]string{path}, EngineOptions{Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Files(); len(got) != 1 || got[0] != path {
		t.Errorf("files %v", got)
	}

	a := alert("X", "instance", "host") // port-9100 fails, fallback decides
	c := e.Classify(a, triaged.LabelledService(a), evalTime)
	_ = e.Classify(alert("Y", "instance", "h:1"), triaged.LabelledService(alert("Y", "instance", "h:1")), evalTime) // the default
	c = e.Escalate(c, a, triaged.LabelledService(a), triaged.Enrichment{Probes: []triaged.Probe{{Name: "http"}}}, evalTime)
	if c.Severity != triaged.P2 {
		t.Errorf("severity %v", c.Severity)
	}

	want := `
# HELP triaged_rule_evaluation_failures_total Rule evaluations that failed at run time; the rule was skipped.
# TYPE triaged_rule_evaluation_failures_total counter
triaged_rule_evaluation_failures_total{rule="broken",stage="escalate"} 1
triaged_rule_evaluation_failures_total{rule="fallback",stage="classify"} 0
triaged_rule_evaluation_failures_total{rule="port-9100",stage="classify"} 1
triaged_rule_evaluation_failures_total{rule="severity-from-label",stage="classify"} 0
triaged_rule_evaluation_failures_total{rule="up",stage="escalate"} 0
# HELP triaged_rule_matches_total Alerts a rule decided (stage "classify", rule "default" when none matched) or escalated (stage "escalate").
# TYPE triaged_rule_matches_total counter
triaged_rule_matches_total{rule="broken",stage="escalate"} 0
triaged_rule_matches_total{rule="default",stage="classify"} 1
triaged_rule_matches_total{rule="fallback",stage="classify"} 1
triaged_rule_matches_total{rule="port-9100",stage="classify"} 0
triaged_rule_matches_total{rule="severity-from-label",stage="classify"} 0
triaged_rule_matches_total{rule="up",stage="escalate"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "triaged_rule_matches_total", "triaged_rule_evaluation_failures_total"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="rule failed, skipped" component=rules stage=classify rule=port-9100 alertname=X`) {
		t.Errorf("runtime failure not logged:\n%s", logs.String())
	}
}

func TestEngineTimeZone(t *testing.T) {
	path := writeFile(t, t.TempDir(), "rules.yml", "default: P4\nrules:\n  - {name: morning, when: 'hour == 9', severity: P1}\n")
	e, err := NewEngine([]string{path}, EngineOptions{Location: time.FixedZone("UTC+2", 2*3600)})
	if err != nil {
		t.Fatal(err)
	}
	if c := e.Classify(alert("A"), triaged.LabelledService(alert("A")), time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)); c.Rule != "morning" {
		t.Errorf("07:00 UTC is 09:00 in the engine's zone, got rule %q", c.Rule)
	}
}

func TestNewEngine(t *testing.T) {
	t.Run("the initial load must succeed", func(t *testing.T) {
		path := writeFile(t, t.TempDir(), "rules.yml", broken)
		if _, err := NewEngine([]string{path}, EngineOptions{}); err == nil || !strings.Contains(err.Error(), "rules.yml:3:") {
			t.Errorf("err = %v", err)
		}
		if _, err := NewEngine([]string{"testdata/does-not-exist.yml"}, EngineOptions{}); !os.IsNotExist(unwrapAll(err)) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no files serve the default rules", func(t *testing.T) {
		e, err := NewEngine(nil, EngineOptions{})
		if err != nil || e.Current() != Default() || len(e.Files()) != 0 {
			t.Fatalf("engine %v, %v", e, err)
		}
		if err := e.Reload(); err != nil || e.Current() != Default() {
			t.Errorf("reload: %v", err)
		}
	})
}

func unwrapAll(err error) error {
	for {
		var next error
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		case interface{ Unwrap() []error }:
			next = e.Unwrap()[0]
		}
		if next == nil {
			return err
		}
		err = next
	}
}
