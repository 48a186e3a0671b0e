package rules

import (
	"slices"
	"strings"
	"testing"
)

func TestRunTests(t *testing.T) {
	res, err := RunTests("testdata/unittest/full.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if res.Cases != 7 {
		t.Errorf("%d cases, want 7", res.Cases)
	}
	type failure struct {
		pos, name string
		diffs     []string
	}
	var got []failure
	for _, f := range res.Failures {
		got = append(got, failure{f.Pos.String(), f.Name, f.Diffs})
	}
	want := []failure{
		{"testdata/unittest/full.test.yml:29:5", "wrong on purpose", []string{
			`severity:    got P1, want P2`,
			`rule:        got "checkout-down", want "long-running"`,
			`escalations: got [], want ["down-for-real"]`,
			`impact:      got ["production_down", "feature_degraded"], want []`,
		}},
		{"testdata/unittest/full.test.yml:43:5", "a rule that fails at run time fails the case on purpose", []string{
			"rule error:  classify rule \"port-one\": index out of range: 1 (array length is 1) (1:28)\n | split(labels.instance, \":\")[1] == \"1\"\n | ...........................^",
		}},
	}
	if !slices.EqualFunc(got, want, func(a, b failure) bool {
		return a.pos == b.pos && a.name == b.name && slices.Equal(a.diffs, b.diffs)
	}) {
		t.Errorf("failures\n got %q\nwant %q", got, want)
	}
}

// TestBrokenTestFiles: a test file that cannot run reports all its problems at their positions,
// and so does a rule file it names.
func TestBrokenTestFiles(t *testing.T) {
	for file, want := range map[string][]string{
		"testdata/unittest/broken.test.yml": {
			`testdata/unittest/broken.test.yml:2:12: time_zone: unknown time zone "Mars/Olympus"`,
			`testdata/unittest/broken.test.yml:3:1: unknown key "colour": want rule_files, evaluation_time, time_zone or tests`,
			`testdata/unittest/broken.test.yml:1:1: evaluation_time: required, e.g. 2026-11-26T15:10:00Z (the time of every case that sets no eval_time)`,
			`testdata/unittest/broken.test.yml:5:5: tests[0]: missing name`,
			`testdata/unittest/broken.test.yml:9:15: case "bad alert": status: want firing or resolved, not "pending"`,
			`testdata/unittest/broken.test.yml:10:18: case "bad alert": starts_at: invalid time "yesterday": want RFC 3339, e.g. 2026-11-26T15:10:00Z`,
			`testdata/unittest/broken.test.yml:11:19: case "bad alert": active_for: invalid duration "5 minutes": want e.g. 90s, 15m, 1h30m`,
			`testdata/unittest/broken.test.yml:12:19: case "bad alert": group_size: want a positive integer, not "many"`,
			`testdata/unittest/broken.test.yml:13:7: case "bad alert": unknown alert key "labelz": want status, labels, annotations, starts_at, active_for, ends_at, receiver, group_labels, common_labels or group_size`,
			`testdata/unittest/broken.test.yml:14:24: case "bad alert": expect.severity: invalid severity "P5": want one of P1, P2, P3, P4 (or "drop" for a dropped alert)`,
			`testdata/unittest/broken.test.yml:14:28: case "bad alert": unknown expect key "rules": want severity, rule, escalations or impact`,
			`testdata/unittest/broken.test.yml:17:12: case "both times": facts: json: unknown field "suspicious" (want changes, probes, logs, metrics and measured_impact with the report's field names)`,
			`testdata/unittest/broken.test.yml:16:12: case "both times": alert: set starts_at or active_for, not both`,
			`testdata/unittest/broken.test.yml:18:13: case "both times": missing expect.severity`,
			`testdata/unittest/broken.test.yml:19:5: case "nothing": missing alert`,
			`testdata/unittest/broken.test.yml:19:5: case "nothing": missing expect`,
		},
		"testdata/unittest/bad-rules.test.yml": {
			"testdata/unknown-name.bad.yml:4:11: rule \"db-down\": when: unknown name lables (1:1)\n | lables.x == \"y\"\n | ^",
			"testdata/regex.bad.yml:1:10: default: already set at testdata/unknown-name.bad.yml:1:10; only one rule file may set it",
			"testdata/regex.bad.yml:4:11: rule \"broken-regex\": when: error parsing regexp: missing closing ): `Disk(` (1:11)\n | alertname matches \"Disk(\"\n | ..........^",
			"testdata/regex.bad.yml:7:11: rule \"label-as-pattern\": when: the pattern of matches must be a string literal (it is compiled once, at load time) (1:26)\n | alertname matches labels.pattern\n | .........................^",
		},
	} {
		res, err := RunTests(file)
		if err == nil {
			t.Errorf("%s: ran %d cases, want errors", file, res.Cases)
			continue
		}
		if got := errorList(err); !slices.Equal(got, want) {
			t.Errorf("%s: errors\n%s\nwant\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if _, err := RunTests("testdata/unittest/nope.test.yml"); err == nil {
		t.Error("a missing test file ran")
	}
}
