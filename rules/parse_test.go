package rules

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/triaged/triaged"
)

// errorList returns the individual messages of a joined error.
func errorList(err error) []string {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []string{err.Error()}
	}
	var msgs []string
	for _, e := range joined.Unwrap() {
		msgs = append(msgs, e.Error())
	}
	return msgs
}

// TestBadFiles holds every *.bad.yml to its complete list of errors, in file order: a file's
// problems are all reported in one pass, each at FILE:LINE:COL.
func TestBadFiles(t *testing.T) {
	want := map[string][]string{
		"unknown-name.bad.yml": {
			"testdata/unknown-name.bad.yml:4:11: rule \"db-down\": when: unknown name lables (1:1)\n | lables.x == \"y\"\n | ^",
		},
		"type-errors.bad.yml": {
			"testdata/type-errors.bad.yml:4:11: rule \"duration-vs-int\": when: invalid operation: > (mismatched types time.Duration and int) (1:12)\n | active_for > 5\n | ...........^",
			"testdata/type-errors.bad.yml:7:11: rule \"not-a-condition\": when: must yield a condition: expected bool, but got string",
			"testdata/type-errors.bad.yml:11:15: rule \"severity-not-a-string\": severity: must yield one of \"P1\"..\"P4\": expected string, but got bool",
		},
		"severity.bad.yml": {
			"testdata/severity.bad.yml:5:15: rule \"p5\": severity: invalid severity \"P5\": want P1, P2, P3, P4 or an expression yielding one",
			"testdata/severity.bad.yml:8:15: rule \"word\": severity: invalid severity \"critical\": want P1, P2, P3, P4 or an expression yielding one",
			"testdata/severity.bad.yml:11:15: rule \"bad-branch\": severity: invalid severity \"P7\": want one of P1, P2, P3, P4 (1:32)\n | environment == \"prod\" ? \"P1\" : \"P7\"\n | ...............................^",
		},
		"keys.bad.yml": {
			"testdata/keys.bad.yml:2:1: unknown key \"groups\": want rules, escalations or default",
			"testdata/keys.bad.yml:4:5: rule \"typo\": missing severity: P1, P2, P3, P4 or an expression yielding one",
			"testdata/keys.bad.yml:6:5: rule \"typo\": unknown key \"severty\": want name, description, when, severity, impact, user_impact, team, runbook, labels or drop",
			"testdata/keys.bad.yml:10:31: rule \"impact\": unknown impact \"outage\": want one of production_down, feature_degraded, data_integrity, security",
			"testdata/keys.bad.yml:15:7: rule \"labels\": invalid label name \"page-now\": want [a-zA-Z_][a-zA-Z0-9_]*",
			"testdata/keys.bad.yml:18:5: rule \"twice\": key \"when\" already set on line 17",
			"testdata/keys.bad.yml:21:11: rule \"expression-too\": when: unknown name lables (1:21)\n | alertname == \"F\" && lables.x == \"\"\n | ....................^",
		},
		"missing.bad.yml": {
			"testdata/missing.bad.yml:2:5: rules[0]: missing name",
			"testdata/missing.bad.yml:2:5: rules[0]: missing when: the condition under which the rule applies",
			"testdata/missing.bad.yml:2:5: rules[0]: missing severity: P1, P2, P3, P4 or an expression yielding one",
			"testdata/missing.bad.yml:3:11: rule \"default\": the name \"default\" is reserved for the default severity",
			"testdata/missing.bad.yml:7:11: rule \"empty-when\": when is empty",
			"testdata/missing.bad.yml:9:5: rules[3]: a rule must be a mapping with name, when and severity, not a scalar",
			"testdata/missing.bad.yml:10:14: escalations must be a list of rules, not a mapping",
			"testdata/missing.bad.yml:11:10: default: invalid severity \"P9\": want one of P1, P2, P3, P4",
		},
		// The YAML parser reports the line of the construct it was in, not of the bad indentation.
		"syntax.bad.yml": {
			"testdata/syntax.bad.yml:1: invalid YAML: did not find expected '-' indicator",
		},
		"regex.bad.yml": {
			"testdata/regex.bad.yml:4:11: rule \"broken-regex\": when: error parsing regexp: missing closing ): `Disk(` (1:11)\n | alertname matches \"Disk(\"\n | ..........^",
			"testdata/regex.bad.yml:7:11: rule \"label-as-pattern\": when: the pattern of matches must be a string literal (it is compiled once, at load time) (1:26)\n | alertname matches labels.pattern\n | .........................^",
		},
		"sandbox.bad.yml": {
			"testdata/sandbox.bad.yml:4:11: rule \"bad-duration\": when: invalid duration \"5 minutes\": want e.g. 90s, 15m, 1h30m (1:14)\n | active_for > duration(\"5 minutes\")\n | .............^",
			"testdata/sandbox.bad.yml:7:11: rule \"wall-clock\": when: time.Time is not callable (1:1)\n | now() - starts_at > duration(\"1h\")\n | ^",
			"testdata/sandbox.bad.yml:10:11: rule \"zone-files\": when: unknown name date (1:1)\n | date(\"2026-01-01\") < now\n | ^",
			"testdata/sandbox.bad.yml:13:11: rule \"escalation-only-name\": when: unknown name failed_probes: only escalation rules see it (enrichment has not run yet when classification does) (1:5)\n | len(failed_probes) > 0\n | ....^",
			"testdata/sandbox.bad.yml:18:15: rule \"raise-from-severity\": severity: cannot use string as argument (type int) to call raise  (1:7)\n | raise(\"one\")\n | ......^",
		},
		// The metrics vocabulary (issue 12): escalation rules only, and typed.
		"metrics.bad.yml": {
			"testdata/metrics.bad.yml:4:11: rule \"metrics-before-enrichment\": when: unknown name metrics: only escalation rules see it (enrichment has not run yet when classification does) (1:1)\n | metrics.error_ratio > 0.1\n | ^",
			"testdata/metrics.bad.yml:7:11: rule \"impact-before-enrichment\": when: unknown name failing_ratio: only escalation rules see it (enrichment has not run yet when classification does) (1:21)\n | alertname == \"X\" && failing_ratio > 0.5\n | ....................^",
			"testdata/metrics.bad.yml:10:11: rule \"has-metric-before-enrichment\": when: unknown name has_metric: only escalation rules see it (enrichment has not run yet when classification does) (1:1)\n | has_metric(\"error_ratio\")\n | ^",
			"testdata/metrics.bad.yml:14:11: rule \"ratio-as-text\": when: invalid operation: contains (mismatched types float64 and string) (1:21)\n | metrics.error_ratio contains \"0.1\"\n | ....................^",
			"testdata/metrics.bad.yml:17:11: rule \"trend-as-number\": when: invalid operation: > (mismatched types string and int) (1:27)\n | metrics_trend.error_ratio > 1\n | ..........................^",
			"testdata/metrics.bad.yml:20:11: rule \"has-metric-of-a-number\": when: cannot use int as argument (type string) to call has_metric  (1:12)\n | has_metric(1)\n | ...........^",
			"testdata/metrics.bad.yml:23:11: rule \"a-metric-is-no-condition\": when: must yield a condition: expected bool, but got float64",
		},
		// Block scalars: the position is the block's first line, expr's (line:column) is within it.
		"block.bad.yml": {
			"testdata/block.bad.yml:5:7: rule \"multi-line\": when: unexpected token Operator(\"=\") (2:22)\n |   && labels.severity = \"critical\"\n | .....................^",
		},
		"not-a-mapping.bad.yml": {
			"testdata/not-a-mapping.bad.yml:1:1: a rule file is a mapping with the keys rules, escalations and default",
		},
		"two-documents.bad.yml": {
			"testdata/two-documents.bad.yml:2: a rule file holds one YAML document, found a second",
		},
		// Cost: what could grow faster than the alert it reads (issue 9).
		"costly.bad.yml": {
			"testdata/costly.bad.yml:4:11: rule \"repeat\": when: repeat() is not allowed in rules: its cost grows with its input (1:1)\n | repeat(labels.x, 1000000) == \"y\"\n | ^",
			"testdata/costly.bad.yml:7:11: rule \"json\": when: toJSON() is not allowed in rules: its cost grows with its input (1:21)\n | alertname == \"X\" && toJSON(labels) contains \"secret\"\n | ....................^",
			"testdata/costly.bad.yml:10:11: rule \"huge-range\": when: the range 1..1000000000 has 1000000000 elements, more than 1000: its cost grows with its length (1:6)\n | any(1..1000000000, {# == hour})\n | .....^",
			"testdata/costly.bad.yml:14:7: rule \"label-per-element\": when: inside a predicate ({...}) a string may only be built from the element (#) and literals: built from another value, it is built again for every element and its cost grows with the square of its input (2:8)\n |     {# + labels.domain == labels.instance})\n | .......^",
			"testdata/costly.bad.yml:22:11: rule \"lines-times-lines\": when: inside a predicate ({...}), any() may only go over a part of the element, as in any(logs, {any(.lines, ...)}): over another list it runs once for every element and its cost grows with the product of the two lists' lengths (1:19)\n | any(error_lines, {any(error_lines, {# == \"x\"})})\n | ..................^",
		},
		"too-big.bad.yml": {
			"testdata/too-big.bad.yml:4:11: rule \"too-big\": when: too large: more than 500 nodes; split it into several rules",
		},
	}

	files, err := filepath.Glob("testdata/*.bad.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			expected, ok := want[name]
			if !ok {
				t.Fatalf("no expected errors for %s in the table", name)
			}
			rs, err := LoadFiles(file)
			if err == nil {
				t.Fatalf("loaded, want errors")
			}
			if rs != nil {
				t.Error("a failed load returned a rule set")
			}
			got := errorList(err)
			if !slices.Equal(got, expected) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(expected, "\n"))
			}
			for _, e := range joinedErrors(err) {
				var re *Error
				if !errors.As(e, &re) || re.Pos.File != file || re.Pos.Line == 0 {
					t.Errorf("%q is not an *Error with a position", e)
				}
			}
		})
	}
	if len(files) != len(want) {
		t.Errorf("%d bad files, %d in the table", len(files), len(want))
	}
}

func joinedErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// TestGoodFiles holds every *.good.yml to its lint warnings.
func TestGoodFiles(t *testing.T) {
	want := map[string][]string{
		"full.good.yml": nil,
		"empty.good.yml": {
			"testdata/empty.good.yml: no default severity: alerts no rule matches get P3; set e.g. default: P3",
		},
		"lint.good.yml": {
			"testdata/lint.good.yml:5:5: rule \"disk-again\": never matches: rule \"disk\" at testdata/lint.good.yml:2:5 has the same condition and comes first",
			"testdata/lint.good.yml:8:5: rule \"never\": never matches: its condition is always false",
			"testdata/lint.good.yml:11:5: rule \"disk\": duplicate name: also the name of the rule at testdata/lint.good.yml:2:5",
			"testdata/lint.good.yml:17:5: rule \"after-catch-all\": never matches: rule \"catch-all\" at testdata/lint.good.yml:14:5 always matches before it",
			"testdata/lint.good.yml:21:5: rule \"lower\": never raises the severity: P4 is the lowest",
			"testdata/lint.good.yml: no default severity: alerts no rule matches get P3; set e.g. default: P3",
		},
	}
	files, err := filepath.Glob("testdata/*.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			expected, ok := want[name]
			if !ok {
				t.Fatalf("no expected warnings for %s in the table", name)
			}
			rs, err := LoadFiles(file)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			var got []string
			for _, w := range rs.Warnings() {
				got = append(got, w.String())
			}
			if !slices.Equal(got, expected) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(expected, "\n"))
			}
		})
	}
	if len(files) != len(want) {
		t.Errorf("%d good files, %d in the table", len(files), len(want))
	}
}

func TestLoadFiles(t *testing.T) {
	t.Run("no files is the default rule set", func(t *testing.T) {
		rs, err := LoadFiles()
		if err != nil || rs != Default() {
			t.Fatalf("LoadFiles() = %v, %v; want Default()", rs, err)
		}
	})
	t.Run("files are concatenated in order", func(t *testing.T) {
		dir := t.TempDir()
		a := writeFile(t, dir, "a.yml", "default: P4\nrules:\n  - {name: a, when: 'alertname == \"X\"', severity: P1}\n")
		b := writeFile(t, dir, "b.yml", "rules:\n  - {name: b, when: 'alertname == \"X\"', severity: P2}\nescalations:\n  - {name: e, when: 'true', severity: P3}\n")
		rs, err := LoadFiles(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if got := rs.Classify(alert("X"), triaged.LabelledService(alert("X")), evalTime); got.Rule != "a" || got.Severity != 1 {
			t.Errorf("classified by %q %v, want a P1", got.Rule, got.Severity)
		}
		if got := rs.Rules(StageClassify); len(got) != 2 || got[1].Name != "b" || got[1].Pos.File != b {
			t.Errorf("rules = %+v", got)
		}
		if rs.DefaultSeverity() != 4 || len(rs.Rules(StageEscalate)) != 1 {
			t.Errorf("default %v, escalations %d", rs.DefaultSeverity(), len(rs.Rules(StageEscalate)))
		}
		if !slices.Equal(rs.Files(), []string{a, b}) {
			t.Errorf("files = %v", rs.Files())
		}
	})
	t.Run("only one file may set the default", func(t *testing.T) {
		dir := t.TempDir()
		a := writeFile(t, dir, "a.yml", "default: P4\n")
		b := writeFile(t, dir, "b.yml", "\ndefault: P2\n")
		_, err := LoadFiles(a, b)
		want := b + ":2:10: default: already set at " + a + ":1:10; only one rule file may set it"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s", err, want)
		}
	})
	t.Run("all unreadable files are reported", func(t *testing.T) {
		_, err := LoadFiles("testdata/nope-1.yml", "testdata/nope-2.yml")
		if got := errorList(err); len(got) != 2 || !strings.Contains(got[1], "nope-2.yml") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("errors of several files come together", func(t *testing.T) {
		_, err := LoadFiles("testdata/unknown-name.bad.yml", "testdata/regex.bad.yml")
		// One in the first file, two in the second, and the second sets the default again.
		if got := errorList(err); len(got) != 4 {
			t.Errorf("got %d errors, want 4: %v", len(got), err)
		}
	})
}

func TestVersion(t *testing.T) {
	data := []byte("default: P3\n")
	a, err := Parse("a.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	// sha256("default: P3\n"), as `sha256sum` prints it.
	if got, want := a.Version(), "0423c3712a2f"; got != want {
		t.Errorf("version %s, want %s", got, want)
	}
	b, _ := Parse("renamed.yml", data)
	c, _ := Parse("a.yml", []byte("default: P2\n"))
	if a.Version() != b.Version() || a.Version() == c.Version() {
		t.Errorf("versions %s %s %s: want the same for the same bytes, different otherwise", a.Version(), b.Version(), c.Version())
	}
}
