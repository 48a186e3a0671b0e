package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/triaged/triaged"
)

const orderedRules = `
default: P4
rules:
  - name: first
    description: The first rule
    when: alertname == "A"
    severity: P1
    impact: [production_down, security]
    user_impact: Nobody can log in.
    team: identity
    runbook: https://runbooks.example.invalid/a
    labels: {page: "yes"}
  - name: second
    when: alertname in ["A", "B"]
    severity: P2
`

func TestClassifyFirstMatchWins(t *testing.T) {
	rs := mustParse(t, orderedRules)
	for _, tc := range []struct {
		alertname string
		want      triaged.Classification
	}{
		{"A", triaged.Classification{
			Severity: triaged.P1, Rule: "first", RuleSetVersion: rs.Version(),
			Decisions:  []triaged.Decision{{Stage: "classify", Rule: "first", Severity: triaged.P1, Reason: "The first rule"}},
			Impact:     triaged.Impact{ProductionDown: true, Security: true},
			UserImpact: "Nobody can log in.", Team: "identity", Runbook: "https://runbooks.example.invalid/a",
			Labels: map[string]string{"page": "yes"},
		}},
		{"B", triaged.Classification{
			Severity: triaged.P2, Rule: "second", RuleSetVersion: rs.Version(),
			Decisions: []triaged.Decision{{Stage: "classify", Rule: "second", Severity: triaged.P2, Reason: `when: alertname in ["A", "B"]`}},
		}},
		{"C", triaged.Classification{
			Severity: triaged.P4, RuleSetVersion: rs.Version(),
			Decisions: []triaged.Decision{{Stage: "classify", Severity: triaged.P4, Reason: "no rule matched: the rule set's default severity"}},
		}},
	} {
		got := rs.Classify(alert(tc.alertname), triaged.LabelledService(alert(tc.alertname)), evalTime)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.alertname, got, tc.want)
		}
	}

	// A caller that changes its classification's labels changes nothing in the rule set.
	c := rs.Classify(alert("A"), triaged.LabelledService(alert("A")), evalTime)
	c.Labels["page"] = "no"
	if again := rs.Classify(alert("A"), triaged.LabelledService(alert("A")), evalTime); again.Labels["page"] != "yes" {
		t.Error("the rule's labels were shared with a caller")
	}
}

const failingRules = `
default: P4
rules:
  - name: port-9100
    description: Indexes past the end when instance has no port
    when: split(labels.instance, ":")[1] == "9100"
    severity: P1
  - name: severity-from-label
    when: has("priority")
    severity: labels.priority
  - name: fallback
    when: alertname == "X"
    severity: P3
`

func TestRuntimeErrorsSkipTheRule(t *testing.T) {
	rs := mustParse(t, failingRules)
	slow := withoutFastPath(rs)
	for _, tc := range []struct {
		name     string
		alert    *triaged.Alert
		severity triaged.Severity
		rule     string
		failed   []string
	}{
		{"no failure", alert("X", "instance", "host:9100"), triaged.P1, "port-9100", nil},
		{"condition fails", alert("X", "instance", "host"), triaged.P3, "fallback", []string{"port-9100"}},
		{"severity fails", alert("X", "instance", "host:80", "priority", "P9"), triaged.P3, "fallback", []string{"severity-from-label"}},
		{"both fail", alert("Y", "instance", "host", "priority", "urgent"), triaged.P4, "", []string{"port-9100", "severity-from-label"}},
		{"severity from a label", alert("Y", "instance", "host:80", "priority", "p2"), triaged.P2, "severity-from-label", nil},
	} {
		for _, set := range []struct {
			name string
			rs   *RuleSet
		}{{"one program", rs}, {"rule by rule", slow}} {
			c, errs := set.rs.ClassifyWithErrors(tc.alert, triaged.LabelledService(tc.alert), evalTime)
			var failed []string
			for _, e := range errs {
				failed = append(failed, e.Rule)
				if e.Stage != StageClassify || e.Err == nil {
					t.Errorf("%s, %s: error %+v", tc.name, set.name, e)
				}
			}
			if c.Severity != tc.severity || c.Rule != tc.rule || !slices.Equal(failed, tc.failed) {
				t.Errorf("%s, %s: %v by %q, failed %v; want %v by %q, failed %v", tc.name, set.name, c.Severity, c.Rule, failed, tc.severity, tc.rule, tc.failed)
			}
		}
	}

	_, errs := rs.ClassifyWithErrors(alert("X", "instance", "host"), triaged.LabelledService(alert("X", "instance", "host")), evalTime)
	if msg := errs[0].Error(); !strings.Contains(msg, `classify rule "port-9100": index out of range: 1 (array length is 1)`) {
		t.Errorf("error message %q", msg)
	}
}

func TestNeverPanics(t *testing.T) {
	rs := mustParse(t, failingRules)
	for _, a := range []*triaged.Alert{
		{},
		alert(""),
		{Alert: alert("X").Alert},
	} {
		_ = rs.Classify(a, triaged.LabelledService(a), time.Time{})
		_ = rs.Escalate(triaged.Classification{}, a, triaged.LabelledService(a), triaged.Enrichment{}, time.Time{})
		_ = rs.Explain(a, triaged.LabelledService(a), time.Time{}, ExplainOptions{All: true})
		_ = Default().Classify(a, triaged.LabelledService(a), time.Time{})
		_ = Default().Escalate(triaged.Classification{Severity: 9}, a, triaged.LabelledService(a), triaged.Enrichment{}, time.Time{})
	}
}

const escalationRules = `
default: P3
rules:
  - {name: base, when: 'alertname == "A"', severity: P3, impact: [feature_degraded], labels: {a: "1"}}
escalations:
  - name: deploy
    description: A suspect deploy
    when: len(suspect_deploys) > 0
    severity: raise(1)
    team: release
    labels: {b: "2"}
  - name: lower-is-ignored
    description: Tries to lower
    when: "true"
    severity: P4
  - name: broken
    when: failed_probes[0].ok
    severity: P1
  - name: data
    description: Corruption in the logs
    when: any(error_lines, {# contains "corrupt"})
    severity: P1
    impact: [data_integrity]
    user_impact: Orders may be lost.
`

func TestEscalate(t *testing.T) {
	rs := mustParse(t, escalationRules)
	a := alert("A")
	c := rs.Classify(a, triaged.LabelledService(a), evalTime)
	before := slices.Clone(c.Decisions)

	t.Run("no facts", func(t *testing.T) {
		got, errs := rs.EscalateWithErrors(c, a, triaged.LabelledService(a), triaged.Enrichment{}, evalTime)
		if got.Severity != triaged.P3 || len(errs) != 1 || errs[0].Rule != "broken" || errs[0].Stage != StageEscalate {
			t.Fatalf("got %v, errors %v", got.Severity, errs)
		}
		if want := []string{"base", "lower-is-ignored"}; !slices.Equal(ruleNames(got.Decisions), want) {
			t.Errorf("decisions %v, want %v", ruleNames(got.Decisions), want)
		}
		if d := got.Decisions[1]; d.Stage != "escalate" || d.Severity != triaged.P3 || d.Reason != "Tries to lower (stays P3)" {
			t.Errorf("decision %+v", d)
		}
	})

	t.Run("facts raise and add", func(t *testing.T) {
		f := triaged.Enrichment{
			Changes: []triaged.Change{{Service: "a", Suspect: true}},
			Probes:  []triaged.Probe{{Name: "http", OK: false}},
			Logs:    []triaged.LogTail{{Lines: []string{"level=error msg=\"checksum mismatch: corrupt page\""}}},
		}
		got, errs := rs.EscalateWithErrors(c, a, triaged.LabelledService(a), f, evalTime)
		if len(errs) != 0 {
			t.Fatalf("errors %v", errs)
		}
		want := triaged.Classification{
			Severity: triaged.P1, Rule: "base", RuleSetVersion: rs.Version(),
			Decisions: []triaged.Decision{
				before[0],
				{Stage: "escalate", Rule: "deploy", Severity: triaged.P2, Reason: "A suspect deploy (raised from P3)"},
				{Stage: "escalate", Rule: "lower-is-ignored", Severity: triaged.P2, Reason: "Tries to lower (stays P2)"},
				{Stage: "escalate", Rule: "data", Severity: triaged.P1, Reason: "Corruption in the logs (raised from P2)"},
			},
			Impact:     triaged.Impact{FeatureDegraded: true, DataIntegrity: true},
			UserImpact: "Orders may be lost.",
			Team:       "release",
			Labels:     map[string]string{"a": "1", "b": "2"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("\n got %+v\nwant %+v", got, want)
		}
	})

	if !reflect.DeepEqual(c.Decisions, before) || c.Labels["b"] != "" {
		t.Error("Escalate changed the caller's classification")
	}

	t.Run("version of another rule set", func(t *testing.T) {
		other := c
		other.RuleSetVersion = "0123456789ab"
		if got := rs.Escalate(other, a, triaged.LabelledService(a), triaged.Enrichment{}, evalTime).RuleSetVersion; got != "0123456789ab+"+rs.Version() {
			t.Errorf("version %q", got)
		}
		if got := mustParse(t, "default: P3").Escalate(other, a, triaged.LabelledService(a), triaged.Enrichment{}, evalTime).RuleSetVersion; got == "0123456789ab" {
			t.Errorf("version %q: a rule set without escalations must still say it ran", got)
		}
	})
}

func ruleNames(ds []triaged.Decision) []string {
	var names []string
	for _, d := range ds {
		names = append(names, d.Rule)
	}
	return names
}

// withoutFastPath returns a copy of rs that classifies rule by rule.
func withoutFastPath(rs *RuleSet) *RuleSet {
	slow := *rs
	slow.fast = nil
	return &slow
}

// diverseRules uses every construct that the single program rewrites or must leave alone.
const diverseRules = `
default: P4
rules:
  - name: optional-chain
    when: labels?.tier == "gold" && $env.labels.env == "prod"
    severity: P1
  - name: let-and-predicate
    when: >-
      let parts = split(labels.instance, ":");
      len(parts) > 1 && any(parts, {# == "9100"}) && all(keys(labels), {len(#) > 0})
    severity: P2
  - name: failing
    when: labels.env == "staging" && split(labels.instance, ":")[1] == "8080"
    severity: P2
  - name: helpers
    when: has("team") && business_hours() && hour >= 9 && weekday != "Sunday" && active_for >= duration("5m")
    severity: 'labels.severity == "critical" ? "P1" : (labels.team == "core" ? "P2" : "P3")'
  - name: dollar-variable
    when: let $0 = labels.env; $0 == "test" && alertname == "Other"
    severity: P1
  - name: maps-whole
    when: '"runbook" in annotations || len(group_labels) > 1 || common_labels == labels'
    severity: P3
  - name: same-label-twice
    when: labels.env == "dev" || (labels["env"] == "test" && labels.env != "prod")
    severity: P4
  - name: regex
    when: alertname matches "(?i)disk|cpu" && service matches "^(api|web)$"
    severity: P3
  - name: computed-key
    when: labels[labels.pointer] == "yes"
    severity: P2
  - name: times
    when: starts_at < now && now.Sub(starts_at) < duration("1h") && receiver == "webhook" && group_size > 0
    severity: P3
`

// TestOneProgramAgreesWithRuleByRule holds the single-program optimisation to the semantics of
// evaluating the rules one by one (which Explain does), over many alerts.
func TestOneProgramAgreesWithRuleByRule(t *testing.T) {
	sets := map[string]*RuleSet{
		"default": Default(),
		"diverse": mustParse(t, diverseRules),
		"failing": mustParse(t, failingRules),
	}
	full, err := LoadFiles("testdata/full.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	sets["full"] = full

	names := []string{"TargetDown", "HighErrorRate", "HighLatency", "DiskSpaceLow", "HighCPUUsage", "PostgresSlowQueries", "Watchdog", "Other"}
	envs := []string{"", "prod", "staging", "dev", "test"}
	severities := []string{"", "critical", "warning", "info"}
	extras := [][]string{
		nil,
		{"instance", "host:9100", "team", "core"},
		{"instance", "host:8080", "tier", "gold", "service", "payments-api"},
		{"instance", "host", "pointer", "flag", "flag", "yes", "priority", "P2"},
		{"job", "web", "batch", "nightly", "priority", "bogus"},
	}
	times := []time.Time{evalTime, time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}

	compared := 0
	for setName, rs := range sets {
		if rs.fast == nil {
			t.Fatalf("%s: no single program", setName)
		}
		slow := withoutFastPath(rs)
		fastRuns, fastFailures := 0, 0
		for _, name := range names {
			for _, env := range envs {
				for _, sev := range severities {
					for _, extra := range extras {
						for _, now := range times {
							labels := append([]string{"env", env, "severity", sev}, extra...)
							a := alert(name, labels...)
							if _, err := rs.fast.run(new(vm.VM), newEnv(a, triaged.LabelledService(a), now)); err != nil {
								fastFailures++
							}
							fastRuns++
							fast, fastErrs := rs.ClassifyWithErrors(a, triaged.LabelledService(a), now)
							ruleByRule, slowErrs := slow.ClassifyWithErrors(a, triaged.LabelledService(a), now)
							explained := rs.Explain(a, triaged.LabelledService(a), now, ExplainOptions{}).Classification
							where := fmt.Sprintf("%s: %s %v at %s", setName, name, labels, now)
							if !reflect.DeepEqual(fast, ruleByRule) || !reflect.DeepEqual(fast, explained) {
								t.Fatalf("%s:\n one program  %+v\n rule by rule %+v\n explain      %+v", where, fast, ruleByRule, explained)
							}
							if fmt.Sprint(fastErrs) != fmt.Sprint(slowErrs) {
								t.Fatalf("%s: errors %v, rule by rule %v", where, fastErrs, slowErrs)
							}
							compared++
						}
					}
				}
			}
		}
		// Both ways through classify must have been compared: the single program deciding, and
		// failing over to rule by rule.
		if fastFailures == fastRuns || (setName != "default" && setName != "full" && fastFailures == 0) {
			t.Errorf("%s: the single program failed %d of %d times", setName, fastFailures, fastRuns)
		}
		t.Logf("%s: the single program failed %d of %d times", setName, fastFailures, fastRuns)
	}
	t.Logf("%d classifications compared", compared)
}

func TestExplain(t *testing.T) {
	rs := mustParse(t, failingRules+`
escalations:
  - {name: up, when: 'len(failed_probes) > 0', severity: raise(1)}
  - {name: broken, when: 'failed_probes[5].ok', severity: P1}
`)
	a := alert("X", "instance", "host", "priority", "P2")
	f := triaged.Enrichment{Probes: []triaged.Probe{{Name: "http"}}}

	x := rs.Explain(a, triaged.LabelledService(a), evalTime, ExplainOptions{Enrichment: f})
	type row struct {
		stage   Stage
		rule    string
		outcome Outcome
		sev     triaged.Severity
		decided bool
	}
	var got []row
	for _, tr := range x.Traces {
		got = append(got, row{tr.Stage, tr.Rule, tr.Outcome, tr.Severity, tr.Decided})
		if (tr.Outcome == Failed) != (tr.Err != nil) {
			t.Errorf("%s: outcome %v with error %v", tr.Rule, tr.Outcome, tr.Err)
		}
		if tr.Pos.Line == 0 || tr.When == "" {
			t.Errorf("%s: no position or condition", tr.Rule)
		}
	}
	want := []row{
		{StageClassify, "port-9100", Failed, 0, false},
		{StageClassify, "severity-from-label", Matched, triaged.P2, true},
		{StageClassify, "fallback", NotTried, 0, false},
		{StageEscalate, "up", Matched, triaged.P1, true},
		{StageEscalate, "broken", Failed, 0, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("traces\n got %v\nwant %v", got, want)
	}
	if x.Classification.Severity != triaged.P2 || x.Final.Severity != triaged.P1 || x.Env.AlertName != "X" {
		t.Errorf("classification %v, final %v", x.Classification.Severity, x.Final.Severity)
	}
	if want := rs.Escalate(rs.Classify(a, triaged.LabelledService(a), evalTime), a, triaged.LabelledService(a), f, evalTime); !reflect.DeepEqual(x.Final, want) {
		t.Errorf("final %+v, Classify+Escalate %+v", x.Final, want)
	}

	all := rs.Explain(a, triaged.LabelledService(a), evalTime, ExplainOptions{Enrichment: f, All: true})
	if tr := all.Traces[2]; tr.Outcome != Matched || tr.Decided {
		t.Errorf("with All, the rule after the decision: %+v", tr)
	}
	if !reflect.DeepEqual(all.Final, x.Final) {
		t.Error("All changed the decision")
	}
	for o, s := range map[Outcome]string{NotMatched: "not matched", Matched: "matched", Failed: "error", NotTried: "not tried"} {
		if o.String() != s {
			t.Errorf("%d prints %q", o, o.String())
		}
	}
}
