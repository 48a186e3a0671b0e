package rules

import (
	"strings"
	"testing"

	"github.com/triaged/triaged"
)

const dropRules = `rules:
  - name: drop-info-inhibitor
    description: InfoInhibitor only inhibits info alerts; it is no incident
    when: alertname == "InfoInhibitor"
    drop: true
  - name: everything
    when: "true"
    severity: P3
escalations:
  - name: raise
    when: "true"
    severity: P1
`

// A rule with drop: true drops the alerts it matches, before any later rule, and no escalation
// raises a dropped alert back.
func TestDropRule(t *testing.T) {
	rs := mustParse(t, dropRules)
	for _, tc := range []struct {
		alert   *triaged.Alert
		dropped bool
		sev     triaged.Severity
	}{
		{alert("InfoInhibitor", "namespace", "x"), true, 0},
		{alert("TargetDown"), false, triaged.P1},
	} {
		c := rs.Classify(tc.alert, triaged.LabelledService(tc.alert), evalTime)
		c = rs.Escalate(c, tc.alert, triaged.LabelledService(tc.alert), triaged.Enrichment{}, evalTime)
		if c.Dropped != tc.dropped || c.Severity != tc.sev {
			t.Errorf("%s: dropped %t severity %v, want dropped %t severity %v", tc.alert.Name(), c.Dropped, c.Severity, tc.dropped, tc.sev)
		}
		x := rs.Explain(tc.alert, triaged.LabelledService(tc.alert), evalTime, ExplainOptions{})
		if x.Final.Dropped != tc.dropped || x.Final.Severity != tc.sev {
			t.Errorf("%s: Explain decided dropped %t severity %v, unlike Classify", tc.alert.Name(), x.Final.Dropped, x.Final.Severity)
		}
	}
}

func TestDropRuleMistakes(t *testing.T) {
	for _, tc := range []struct{ name, yml, want string }{
		{"with severity", "rules:\n  - name: d\n    when: \"true\"\n    drop: true\n    severity: P3\n",
			`test.yml:2:5: rule "d": a rule with drop: true gives no severity`},
		{"not a bool", "rules:\n  - name: d\n    when: \"true\"\n    drop: yes\n",
			`test.yml:4:11: rule "d": drop must be true or false, not "yes"`},
		{"escalation", "escalations:\n  - name: e\n    when: \"true\"\n    drop: true\n",
			`test.yml:4:11: rule "e": drop is for classification rules (under rules:), not escalations`},
		{"drop false needs a severity", "rules:\n  - name: d\n    when: \"true\"\n    drop: false\n",
			`test.yml:2:5: rule "d": missing severity`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.yml", []byte(tc.yml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// A rule unit test expects a dropped alert with severity: drop.
func TestUnitTestExpectsDrop(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "drop.rules.yml", dropRules)
	path := writeFile(t, dir, "drop.test.yml", `rule_files: [drop.rules.yml]
evaluation_time: 2026-11-26T15:10:00Z
tests:
  - name: info inhibitor
    alert: {labels: {alertname: InfoInhibitor}}
    expect: {severity: drop, rule: drop-info-inhibitor}
  - name: wrongly expected dropped
    alert: {labels: {alertname: TargetDown}}
    expect: {severity: drop}
`)
	res, err := RunTests(path)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, c := range res.Failures {
		failed = append(failed, c.Name+": "+strings.Join(c.Diffs, "; "))
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "wrongly expected dropped: severity:    got P1, want drop") {
		t.Errorf("failures %q, want only the second case's, saying got P1, want drop", failed)
	}
}
