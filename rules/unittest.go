package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/template"
	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/yamlnode"
)

// A rule test file, like a `promtool test rules` file, names rule files (relative to itself), an
// evaluation time, and cases: an input alert, optional enrichment facts, and the expected
// outcome. README.md documents the format; default.rules.test.yml is an example.

// TestResult is the outcome of one test file.
type TestResult struct {
	File string
	// Rules is the rule set under test.
	Rules    *RuleSet
	Cases    int
	Failures []TestFailure
}

// TestFailure is a case whose outcome differs from the expected one.
type TestFailure struct {
	Pos  Position
	Name string
	// Diffs are lines like `severity: got P2, want P1`.
	Diffs []string
}

// testCase is one case as written.
type testCase struct {
	pos    Position
	name   string
	at     time.Time
	alert  triaged.Alert
	facts  triaged.Enrichment
	expect testExpect
}

type testExpect struct {
	severity    triaged.Severity
	rule        *string
	escalations *[]string
	impact      *triaged.Impact
}

// RunTests runs a rule test file. The error reports a file that cannot be run at all (unreadable,
// malformed, or naming rule files that do not load), with every problem found; failing cases are
// in the result.
func RunTests(path string) (*TestResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	ruleFiles, cases, err := decodeTestFile(path, data)
	if err != nil {
		return nil, err
	}
	rs, err := LoadFiles(ruleFiles...)
	if err != nil {
		return nil, fmt.Errorf("load rule files of %s: %w", path, err)
	}
	res := &TestResult{File: path, Rules: rs, Cases: len(cases)}
	for _, tc := range cases {
		if diffs := runCase(rs, &tc); len(diffs) > 0 {
			res.Failures = append(res.Failures, TestFailure{Pos: tc.pos, Name: tc.name, Diffs: diffs})
		}
	}
	return res, nil
}

// expectDrop is what a unit test expects as the severity of an alert a rule drops.
const expectDrop = "drop"

func severityText(s triaged.Severity) string {
	if !s.Valid() {
		return expectDrop
	}
	return s.String()
}

// runCase runs both stages as the daemon does, and compares.
func runCase(rs *RuleSet, tc *testCase) []string {
	svc := triaged.LabelledService(&tc.alert)
	c, classifyErrs := rs.ClassifyWithErrors(&tc.alert, svc, tc.at)
	n := len(c.Decisions)
	c, escalateErrs := rs.EscalateWithErrors(c, &tc.alert, svc, tc.facts, tc.at)

	var diffs []string
	if c.Severity != tc.expect.severity {
		diffs = append(diffs, fmt.Sprintf("severity:    got %s, want %s", severityText(c.Severity), severityText(tc.expect.severity)))
	}
	if want := tc.expect.rule; want != nil {
		got := c.Rule
		if got == "" {
			got = DefaultRuleName
		}
		if got != *want {
			diffs = append(diffs, fmt.Sprintf("rule:        got %q, want %q", got, *want))
		}
	}
	if want := tc.expect.escalations; want != nil {
		got := []string{}
		for _, d := range c.Decisions[n:] {
			got = append(got, d.Rule)
		}
		if !slices.Equal(got, *want) {
			diffs = append(diffs, fmt.Sprintf("escalations: got %s, want %s", quoteList(got), quoteList(*want)))
		}
	}
	if want := tc.expect.impact; want != nil && c.Impact != *want {
		diffs = append(diffs, fmt.Sprintf("impact:      got %s, want %s", quoteList(impactList(c.Impact)), quoteList(impactList(*want))))
	}
	// A rule that fails at run time is skipped in production and counted as a failure: in a
	// test it is a bug to fix, whatever the outcome.
	for _, re := range append(classifyErrs, escalateErrs...) {
		diffs = append(diffs, fmt.Sprintf("rule error:  %v", re))
	}
	if len(diffs) > 0 {
		diffs = append(diffs, metricHints(rs, tc.facts)...)
	}
	return diffs
}

func impactList(imp triaged.Impact) []string {
	names := []string{}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"production_down", imp.ProductionDown},
		{"feature_degraded", imp.FeatureDegraded},
		{"data_integrity", imp.DataIntegrity},
		{"security", imp.Security},
	} {
		if f.set {
			names = append(names, f.name)
		}
	}
	return names
}

// decodeTestFile reads a test file strictly, reporting every problem at its position.
func decodeTestFile(path string, data []byte) (ruleFiles []string, cases []testCase, err error) {
	d := &decoder{yamlnode.New(path, string(data), 0)}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, d.SyntaxError(err, "invalid YAML")
	}
	root := yamlnode.Root(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, nil, &Error{Pos: Position{File: path, Line: 1}, Err: errors.New("a test file is a mapping with the keys rule_files, evaluation_time, time_zone and tests")}
	}

	var at time.Time
	var atNode, testsNode *yaml.Node
	location := time.UTC
	d.Mapping(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "rule_files":
			if v.Kind != yaml.SequenceNode {
				d.Errorf(v, "", "rule_files must be a list of paths, not a %s", yamlnode.KindName(v))
				return
			}
			for _, item := range v.Content {
				if s, ok := d.Scalar(yamlnode.Resolve(item), "", "rule_files"); ok {
					if !filepath.IsAbs(s) {
						s = filepath.Join(filepath.Dir(path), s)
					}
					ruleFiles = append(ruleFiles, s)
				}
			}
		case "evaluation_time":
			atNode = v
			at, _ = d.timestamp(v, "", key)
		case "time_zone":
			if s, ok := d.Scalar(v, "", key); ok {
				loc, err := time.LoadLocation(s)
				if err != nil {
					d.Errorf(v, "", "time_zone: unknown time zone %q", s)
					return
				}
				location = loc
			}
		case "tests":
			testsNode = v
		default:
			d.Errorf(k, "", "unknown key %q: want rule_files, evaluation_time, time_zone or tests", key)
		}
	})
	if len(ruleFiles) == 0 {
		d.Errorf(root, "", "rule_files: name at least one rule file")
	}
	if atNode == nil {
		d.Errorf(root, "", "evaluation_time: required, e.g. 2026-11-26T15:10:00Z (the time of every case that sets no eval_time)")
	}
	switch {
	case testsNode == nil:
		d.Errorf(root, "", "tests: no test cases")
	case testsNode.Kind != yaml.SequenceNode:
		d.Errorf(testsNode, "", "tests must be a list of cases, not a %s", yamlnode.KindName(testsNode))
	default:
		for i, item := range testsNode.Content {
			cases = append(cases, d.testCase(yamlnode.Resolve(item), i, at.In(location), location))
		}
	}
	if len(d.Errs) > 0 {
		return nil, nil, errors.Join(d.Errs...)
	}
	return ruleFiles, cases, nil
}

func (d *decoder) timestamp(n *yaml.Node, ref, key string) (time.Time, bool) {
	s, ok := d.Scalar(n, ref, key)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.Errorf(n, ref, "%s: invalid time %q: want RFC 3339, e.g. 2026-11-26T15:10:00Z", key, s)
		return time.Time{}, false
	}
	return t, true
}

func (d *decoder) duration(n *yaml.Node, ref, key string) (time.Duration, bool) {
	s, ok := d.Scalar(n, ref, key)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Errorf(n, ref, "%s: invalid duration %q: want e.g. 90s, 15m, 1h30m", key, s)
		return 0, false
	}
	return v, true
}

func (d *decoder) stringMap(n *yaml.Node, ref, key string) template.KV {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, ref, "%s must be a mapping of names to strings, not a %s", key, yamlnode.KindName(n))
		return nil
	}
	kv := template.KV{}
	d.Mapping(n, ref, func(name string, _, v *yaml.Node) {
		if s, ok := d.Scalar(v, ref, key+"."+name); ok {
			kv[name] = s
		}
	})
	return kv
}

func (d *decoder) testCase(n *yaml.Node, index int, at time.Time, location *time.Location) testCase {
	tc := testCase{pos: d.Pos(n), at: at}
	ref := fmt.Sprintf("tests[%d]", index)
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, ref, "a case must be a mapping with name, alert and expect, not a %s", yamlnode.KindName(n))
		return tc
	}
	if v := yamlnode.Lookup(n, "name"); v != nil && v.Kind == yaml.ScalarNode {
		tc.name = v.Value
		ref = fmt.Sprintf("case %q", tc.name)
	}
	var alertNode, expectNode *yaml.Node
	d.Mapping(n, ref, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
		case "eval_time":
			if t, ok := d.timestamp(v, ref, key); ok {
				tc.at = t.In(location)
			}
		case "alert":
			alertNode = v
		case "facts":
			tc.facts = d.facts(v, ref)
		case "expect":
			expectNode = v
		default:
			d.Errorf(k, ref, "unknown key %q: want name, eval_time, alert, facts or expect", key)
		}
	})
	if tc.name == "" {
		d.Errorf(n, ref, "missing name")
	}
	if alertNode == nil {
		d.Errorf(n, ref, "missing alert")
	} else {
		tc.alert = d.testAlert(alertNode, ref, tc.at)
	}
	if expectNode == nil {
		d.Errorf(n, ref, "missing expect")
	} else {
		tc.expect = d.testExpect(expectNode, ref)
	}
	return tc
}

func (d *decoder) testAlert(n *yaml.Node, ref string, at time.Time) triaged.Alert {
	a := triaged.Alert{Alert: template.Alert{Status: triaged.StatusFiring, Labels: template.KV{}, Annotations: template.KV{}}}
	a.Group.Size = 1
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, ref, "alert must be a mapping, not a %s", yamlnode.KindName(n))
		return a
	}
	var startsAt *time.Time
	var activeFor *time.Duration
	d.Mapping(n, ref, func(key string, k, v *yaml.Node) {
		switch key {
		case "status":
			if s, ok := d.Scalar(v, ref, key); ok {
				if s != triaged.StatusFiring && s != triaged.StatusResolved {
					d.Errorf(v, ref, "status: want firing or resolved, not %q", s)
				}
				a.Status = s
			}
		case "labels":
			a.Labels = d.stringMap(v, ref, key)
		case "annotations":
			a.Annotations = d.stringMap(v, ref, key)
		case "group_labels":
			a.Group.Labels = d.stringMap(v, ref, key)
		case "common_labels":
			a.Group.CommonLabels = d.stringMap(v, ref, key)
		case "receiver":
			a.Group.Receiver, _ = d.Scalar(v, ref, key)
		case "group_size":
			s, _ := d.Scalar(v, ref, key)
			size, err := strconv.Atoi(s)
			if err != nil || size < 1 {
				d.Errorf(v, ref, "group_size: want a positive integer, not %q", s)
			}
			a.Group.Size = size
		case "starts_at":
			if t, ok := d.timestamp(v, ref, key); ok {
				startsAt = &t
			}
		case "active_for":
			if dur, ok := d.duration(v, ref, key); ok {
				activeFor = &dur
			}
		case "ends_at":
			if t, ok := d.timestamp(v, ref, key); ok {
				a.EndsAt = t
			}
		default:
			d.Errorf(k, ref, "unknown alert key %q: want status, labels, annotations, starts_at, active_for, ends_at, receiver, group_labels, common_labels or group_size", key)
		}
	})
	switch {
	case startsAt != nil && activeFor != nil:
		d.Errorf(n, ref, "alert: set starts_at or active_for, not both")
	case startsAt != nil:
		a.StartsAt = *startsAt
	case activeFor != nil:
		a.StartsAt = at.Add(-*activeFor)
	default:
		a.StartsAt = at
	}
	if a.Group.Labels == nil {
		a.Group.Labels = template.KV{"alertname": a.Labels["alertname"]}
	}
	if a.Group.CommonLabels == nil {
		a.Group.CommonLabels = maps.Clone(a.Labels)
	}
	return a
}

// facts reads enrichment facts with the field names of their JSON form (the report's), strictly.
func (d *decoder) facts(n *yaml.Node, ref string) triaged.Enrichment {
	var raw any
	if err := n.Decode(&raw); err != nil {
		d.Errorf(n, ref, "facts: %v", err)
		return triaged.Enrichment{}
	}
	data, err := json.Marshal(raw)
	if err != nil {
		d.Errorf(n, ref, "facts: %v", err)
		return triaged.Enrichment{}
	}
	f, err := DecodeFacts(data)
	if err != nil {
		d.Errorf(n, ref, "facts: %v (want changes, probes, logs, metrics and measured_impact with the report's field names)", err)
	}
	return f
}

func (d *decoder) testExpect(n *yaml.Node, ref string) testExpect {
	var e testExpect
	hasSeverity := false
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, ref, "expect must be a mapping, not a %s", yamlnode.KindName(n))
		return e
	}
	d.Mapping(n, ref, func(key string, k, v *yaml.Node) {
		switch key {
		case "severity":
			hasSeverity = true
			if s, ok := d.Scalar(v, ref, key); ok && s != expectDrop { // drop: severity 0
				sev, err := triaged.ParseSeverity(s)
				if err != nil {
					d.Errorf(v, ref, "expect.severity: %v (or %q for a dropped alert)", err, expectDrop)
				}
				e.severity = sev
			}
		case "rule":
			if s, ok := d.Scalar(v, ref, key); ok {
				e.rule = &s
			}
		case "escalations":
			names := []string{}
			if v.Kind != yaml.SequenceNode {
				d.Errorf(v, ref, "expect.escalations must be a list of rule names, not a %s", yamlnode.KindName(v))
				return
			}
			for _, item := range v.Content {
				if s, ok := d.Scalar(yamlnode.Resolve(item), ref, key); ok {
					names = append(names, s)
				}
			}
			e.escalations = &names
		case "impact":
			var imp triaged.Impact
			d.impact(v, ref, &imp)
			e.impact = &imp
		default:
			d.Errorf(k, ref, "unknown expect key %q: want severity, rule, escalations or impact", key)
		}
	})
	if !hasSeverity {
		d.Errorf(n, ref, "missing expect.severity")
	}
	return e
}
