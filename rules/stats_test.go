package rules

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/triaged/triaged"
)

const statsRules = `default: P4
rules:
  - {name: db, when: 'alertname == "DB"', severity: P1}
  - {name: web, when: 'alertname == "Web"', severity: P3}
  - {name: web, when: 'alertname == "Web2"', severity: P2}
escalations:
  - {name: probes, when: 'len(failed_probes) > 0', severity: P2}
`

// TestStatusCounts: a known stream of alerts gives exact counts per compiled rule (two rules of
// one name apart), the default counted, escalations counted when they apply, the latest
// evaluation time kept; a reload starts the new rule set from zero, a failed one keeps the counts
// and says why.
func TestStatusCounts(t *testing.T) {
	path := writeFile(t, t.TempDir(), "team.rules.yml", statsRules)
	reg := prometheus.NewRegistry()
	e, err := NewEngine([]string{path}, EngineOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	st := e.Status()
	if st.LastReload.Err != nil || time.Since(st.LastReload.At) > time.Minute || st.Embedded {
		t.Fatalf("after start: %+v", st.LastReload)
	}
	t1, t2 := evalTime, evalTime.Add(time.Hour)
	stream := []struct {
		name string
		at   time.Time
	}{{"DB", t2}, {"DB", t1}, {"Web", t1}, {"Web2", t1}, {"Web2", t1}, {"Web2", t2}, {"Other", t1}}
	var db triaged.Classification
	for _, s := range stream {
		c := e.Classify(alert(s.name), triaged.Service{}, s.at)
		if s.name == "DB" {
			db = c
		}
	}
	failed := triaged.Enrichment{Probes: []triaged.Probe{{Target: "x", OK: false}}}
	e.Escalate(db, alert("DB"), triaged.Service{}, failed, t1)
	e.Escalate(db, alert("DB"), triaged.Service{}, triaged.Enrichment{}, t2) // does not apply

	st = e.Status()
	type got struct {
		name    string
		matches uint64
		last    time.Time
	}
	var classify, escalate []got
	for _, r := range st.Classify {
		classify = append(classify, got{r.Name, r.Matches, r.LastMatch})
	}
	for _, r := range st.Escalate {
		escalate = append(escalate, got{r.Name, r.Matches, r.LastMatch})
	}
	wantClassify := []got{{"db", 2, t2}, {"web", 1, t1}, {"web", 3, t2}}
	if len(classify) != 3 || classify[0] != wantClassify[0] || classify[1] != wantClassify[1] || classify[2] != wantClassify[2] {
		t.Errorf("classify = %v, want %v", classify, wantClassify)
	}
	if want := (got{"probes", 1, t1}); len(escalate) != 1 || escalate[0] != want {
		t.Errorf("escalate = %v, want %v", escalate, want)
	}
	if st.Default.Matches != 1 || !st.Default.LastMatch.Equal(t1) || st.Default.Severity != "P4" || st.Default.Pos.Line != 1 {
		t.Errorf("default = %+v", st.Default)
	}
	if r := st.Classify[0]; r.When != `alertname == "DB"` || r.Severity != "P1" || r.Pos.String() != path+":3:5" {
		t.Errorf("rule db = %+v", r.RuleInfo)
	}
	// The metric goes on counting by name, as before.
	if n := testutil.ToFloat64(e.metrics.matches.WithLabelValues("classify", "web")); n != 4 {
		t.Errorf("triaged_rule_matches_total{rule=web} = %v, want 4", n)
	}

	if err := os.WriteFile(path, []byte(strings.Replace(statsRules, `== "DB"`, `= "DB"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err == nil {
		t.Fatal("broken file reloaded")
	}
	st = e.Status()
	if st.LastReload.Err == nil || !strings.Contains(st.LastReload.Err.Error(), path+":3:") || st.Classify[0].Matches != 2 {
		t.Errorf("after a failed reload: %v, db matches %d (kept: 2)", st.LastReload.Err, st.Classify[0].Matches)
	}

	if err := os.WriteFile(path, []byte(statsRules), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	st = e.Status()
	for _, r := range append(st.Classify, append(st.Escalate, st.Default)...) {
		if r.Matches != 0 || !r.LastMatch.IsZero() {
			t.Errorf("after a reload, %s %s has %d matches, last %v: want a fresh start", r.Stage, r.Name, r.Matches, r.LastMatch)
		}
	}
	if st.LastReload.Err != nil {
		t.Errorf("last reload: %v", st.LastReload.Err)
	}
}

// TestStatusEmbedded: an engine on the built-in rules says so.
func TestStatusEmbedded(t *testing.T) {
	e, err := NewEngine(nil, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.Status(); !st.Embedded || st.Rules != Default() || len(st.Classify) != len(Default().Rules(StageClassify)) {
		t.Fatalf("embedded: %v, rules %d", st.Embedded, len(st.Classify))
	}
}
