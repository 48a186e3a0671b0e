package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged"
)

// Stage is one of the two passes of the rules over an alert.
type Stage string

const (
	// StageClassify runs when an alert arrives: the first matching rule decides the severity.
	StageClassify Stage = "classify"
	// StageEscalate runs after enrichment: every matching rule may raise the severity.
	StageEscalate Stage = "escalate"
)

// listKey is the rule file key that lists the stage's rules.
func (s Stage) listKey() string {
	if s == StageEscalate {
		return "escalations"
	}
	return "rules"
}

// DefaultRuleName is the name under which the default severity appears where a rule name is
// expected: in metrics and in unit tests (`rule: default`). No rule may take it.
const DefaultRuleName = "default"

// Impact names, the keys of the incident report's impact checklist.
var impactNames = []string{"production_down", "feature_degraded", "data_integrity", "security"}

func setImpact(imp *triaged.Impact, name string) bool {
	switch name {
	case "production_down":
		imp.ProductionDown = true
	case "feature_degraded":
		imp.FeatureDegraded = true
	case "data_integrity":
		imp.DataIntegrity = true
	case "security":
		imp.Security = true
	default:
		return false
	}
	return true
}

// fileSpec is a rule file as written, before any expression is compiled.
type fileSpec struct {
	name        string
	rules       []ruleSpec
	escalations []ruleSpec
	// defaultSeverity is 0 when the file sets none.
	defaultSeverity triaged.Severity
	defaultPos      Position
}

// ruleSpec is one rule as written, with the positions that errors point at.
type ruleSpec struct {
	stage       Stage
	index       int
	pos         Position
	name        string
	description string
	when        exprSource
	severity    exprSource
	impact      triaged.Impact
	userImpact  string
	team        string
	runbook     string
	labels      map[string]string
}

func (r *ruleSpec) ref() string { return ruleRef(r.stage, r.index, r.name) }

// exprSource is an expression and where its text starts in the file.
type exprSource struct {
	text string
	pos  Position
}

// decoder walks a YAML node tree by hand rather than with yaml's struct decoding: that is what
// lets it reject unknown keys, point at line and column, name the rule, and report every problem
// of the file in one pass.
type decoder struct {
	file  string
	lines [][]byte
	errs  []error
}

func (d *decoder) pos(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Column: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, rule string, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: d.pos(n), Rule: rule, Err: fmt.Errorf(format, args...)})
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeFile reads a rule file's structure. Problems are returned all together, with what could
// be read of the rules (nil when the YAML does not parse), so that their expressions can be
// checked in the same pass.
func decodeFile(filename string, data []byte) (*fileSpec, []error) {
	d := &decoder{file: filename, lines: bytes.Split(data, []byte("\n"))}
	spec := &fileSpec{name: filename}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file: no rules, which lint reports
			return spec, nil
		}
		return nil, []error{d.syntaxError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, []error{&Error{Pos: Position{File: filename, Line: extra.Line}, Err: errors.New("a rule file holds one YAML document, found a second")}}
	} else if !errors.Is(err, io.EOF) {
		return nil, []error{d.syntaxError(err)}
	}

	root := resolve(&doc)
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return spec, nil
		}
		root = resolve(root.Content[0])
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return spec, nil
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "a rule file is a mapping with the keys rules, escalations and default")
		return nil, d.errs
	}
	d.mapping(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "rules":
			spec.rules = d.ruleList(v, StageClassify)
		case "escalations":
			spec.escalations = d.ruleList(v, StageEscalate)
		case "default":
			s, ok := d.scalar(v, "", "default")
			if !ok {
				return
			}
			sev, err := triaged.ParseSeverity(s)
			if err != nil {
				d.errorf(v, "", "default: invalid severity %q: want one of P1, P2, P3, P4", s)
				return
			}
			spec.defaultSeverity, spec.defaultPos = sev, d.pos(v)
		default:
			d.errorf(k, "", "unknown key %q: want rules, escalations or default", key)
		}
	})
	return spec, d.errs
}

// syntaxError turns yaml's "yaml: line N: msg" into a positioned Error.
func (d *decoder) syntaxError(err error) error {
	if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Pos: Position{File: d.file, Line: line}, Err: errors.New("invalid YAML: " + m[2])}
	}
	return &Error{Pos: Position{File: d.file}, Err: fmt.Errorf("invalid YAML: %w", err)}
}

// resolve follows aliases, so that anchors may be used to share text between rules.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// mapping calls field for each key of a mapping node, rejecting duplicate and non-string keys.
func (d *decoder) mapping(n *yaml.Node, rule string, field func(key string, k, v *yaml.Node)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, rule, "keys must be plain strings")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, rule, "key %q already set on line %d", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		field(k.Value, k, v)
	}
}

// scalar reads a string; null reads as "".
func (d *decoder) scalar(n *yaml.Node, rule, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, rule, "%s must be a string, not a %s", key, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "scalar"
	}
}

func (d *decoder) ruleList(n *yaml.Node, stage Stage) []ruleSpec {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "", "%s must be a list of rules, not a %s", stage.listKey(), kindName(n))
		return nil
	}
	specs := make([]ruleSpec, 0, len(n.Content))
	for i, item := range n.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			d.errorf(item, ruleRef(stage, i, ""), "a rule must be a mapping with name, when and severity, not a %s", kindName(item))
			continue
		}
		specs = append(specs, d.rule(item, stage, i))
	}
	return specs
}

func (d *decoder) rule(n *yaml.Node, stage Stage, index int) ruleSpec {
	r := ruleSpec{stage: stage, index: index, pos: d.pos(n)}
	// The name first, so that every later problem can say which rule it is in.
	var nameNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == "name" {
			nameNode = resolve(n.Content[i+1])
			if nameNode.Kind == yaml.ScalarNode && nameNode.Tag != "!!null" {
				r.name = strings.TrimSpace(nameNode.Value)
			}
			break
		}
	}
	ref := r.ref()
	switch {
	case nameNode == nil:
		d.errorf(n, ref, "missing name")
	case r.name == "":
		d.errorf(nameNode, ref, "name must be a non-empty string")
	case r.name == DefaultRuleName:
		d.errorf(nameNode, ref, "the name %q is reserved for the default severity", DefaultRuleName)
	}

	var hasWhen, hasSeverity bool
	d.mapping(n, ref, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			// Read above.
		case "description", "user_impact", "team", "runbook":
			s, ok := d.scalar(v, ref, key)
			if !ok {
				return
			}
			switch key {
			case "description":
				r.description = strings.TrimSpace(s)
			case "user_impact":
				r.userImpact = strings.TrimSpace(s)
			case "team":
				r.team = strings.TrimSpace(s)
			case "runbook":
				r.runbook = strings.TrimSpace(s)
			}
		case "when":
			hasWhen = true
			r.when = d.expression(v, ref, key)
		case "severity":
			hasSeverity = true
			r.severity = d.expression(v, ref, key)
		case "impact":
			d.impact(v, ref, &r.impact)
		case "labels":
			r.labels = d.labels(v, ref)
		default:
			d.errorf(k, ref, "unknown key %q: want name, description, when, severity, impact, user_impact, team, runbook or labels", key)
		}
	})
	if !hasWhen {
		d.errorf(n, ref, "missing when: the condition under which the rule applies")
	}
	if !hasSeverity {
		d.errorf(n, ref, "missing severity: P1, P2, P3, P4 or an expression yielding one")
	}
	return r
}

// expression reads an expression and the position of its first character. For a block scalar
// (| or >) that is the first line of the block, not the indicator.
func (d *decoder) expression(n *yaml.Node, rule, key string) exprSource {
	s, ok := d.scalar(n, rule, key)
	if !ok {
		return exprSource{}
	}
	src := exprSource{text: strings.TrimRight(s, " \t\r\n"), pos: d.pos(n)}
	if strings.TrimSpace(s) == "" {
		d.errorf(n, rule, "%s is empty", key)
		return exprSource{}
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		// Block content begins on the next non-blank line, at its indentation.
		for l := n.Line; l < len(d.lines); l++ { // d.lines is 0-based, so index l is line l+1
			line := d.lines[l]
			if trimmed := bytes.TrimLeft(line, " "); len(bytes.TrimSpace(trimmed)) > 0 {
				src.pos.Line, src.pos.Column = l+1, len(line)-len(trimmed)+1
				break
			}
		}
	}
	return src
}

func (d *decoder) impact(n *yaml.Node, rule string, imp *triaged.Impact) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, rule, "impact must be a list of %s, not a %s", strings.Join(impactNames, ", "), kindName(n))
		return
	}
	for _, item := range n.Content {
		item = resolve(item)
		s, ok := d.scalar(item, rule, "impact")
		if !ok {
			continue
		}
		if !setImpact(imp, s) {
			d.errorf(item, rule, "unknown impact %q: want one of %s", s, strings.Join(impactNames, ", "))
		}
	}
}

func (d *decoder) labels(n *yaml.Node, rule string) map[string]string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, rule, "labels must be a mapping of names to strings, not a %s", kindName(n))
		return nil
	}
	labels := make(map[string]string, len(n.Content)/2)
	d.mapping(n, rule, func(key string, k, v *yaml.Node) {
		if !labelName.MatchString(key) {
			d.errorf(k, rule, "invalid label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", key)
			return
		}
		if s, ok := d.scalar(v, rule, "label "+strconv.Quote(key)); ok {
			labels[key] = s
		}
	})
	return labels
}

// labelName is Prometheus' label name syntax, so that rule labels can become metric or
// Alertmanager labels downstream.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
