package rules

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/yamlnode"
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
	// drop: the alert is dropped, not classified (`drop: true`).
	drop bool
}

func (r *ruleSpec) ref() string { return ruleRef(r.stage, r.index, r.name) }

// exprSource is an expression and where its text starts in the file.
type exprSource struct {
	text string
	pos  Position
}

// decoder reads a rule file (or a rule unit test file) with the shared YAML node walker.
type decoder struct {
	*yamlnode.Walker
}

// decodeFile reads a rule file's structure. Problems are returned all together, with what could
// be read of the rules (nil when the YAML does not parse), so that their expressions can be
// checked in the same pass.
func decodeFile(filename string, data []byte) (*fileSpec, []error) {
	d := &decoder{yamlnode.New(filename, string(data), 0)}
	spec := &fileSpec{name: filename}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file: no rules, which lint reports
			return spec, nil
		}
		return nil, []error{d.SyntaxError(err, "invalid YAML")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, []error{&Error{Pos: Position{File: filename, Line: extra.Line}, Err: errors.New("a rule file holds one YAML document, found a second")}}
	} else if !errors.Is(err, io.EOF) {
		return nil, []error{d.SyntaxError(err, "invalid YAML")}
	}

	root := yamlnode.Root(&doc)
	if root == nil {
		return spec, nil
	}
	if root.Kind != yaml.MappingNode {
		d.Errorf(root, "", "a rule file is a mapping with the keys rules, escalations and default")
		return nil, d.Errs
	}
	d.Mapping(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "rules":
			spec.rules = d.ruleList(v, StageClassify)
		case "escalations":
			spec.escalations = d.ruleList(v, StageEscalate)
		case "default":
			s, ok := d.Scalar(v, "", "default")
			if !ok {
				return
			}
			sev, err := triaged.ParseSeverity(s)
			if err != nil {
				d.Errorf(v, "", "default: invalid severity %q: want one of P1, P2, P3, P4", s)
				return
			}
			spec.defaultSeverity, spec.defaultPos = sev, d.Pos(v)
		default:
			d.Errorf(k, "", "unknown key %q: want rules, escalations or default", key)
		}
	})
	return spec, d.Errs
}

func (d *decoder) ruleList(n *yaml.Node, stage Stage) []ruleSpec {
	if yamlnode.IsNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, "", "%s must be a list of rules, not a %s", stage.listKey(), yamlnode.KindName(n))
		return nil
	}
	specs := make([]ruleSpec, 0, len(n.Content))
	for i, item := range n.Content {
		item = yamlnode.Resolve(item)
		if item.Kind != yaml.MappingNode {
			d.Errorf(item, ruleRef(stage, i, ""), "a rule must be a mapping with name, when and severity, not a %s", yamlnode.KindName(item))
			continue
		}
		specs = append(specs, d.rule(item, stage, i))
	}
	return specs
}

func (d *decoder) rule(n *yaml.Node, stage Stage, index int) ruleSpec {
	r := ruleSpec{stage: stage, index: index, pos: d.Pos(n)}
	// The name first, so that every later problem can say which rule it is in.
	nameNode := yamlnode.Lookup(n, "name")
	if nameNode != nil && nameNode.Kind == yaml.ScalarNode && !yamlnode.IsNull(nameNode) {
		r.name = strings.TrimSpace(nameNode.Value)
	}
	ref := r.ref()
	switch {
	case nameNode == nil:
		d.Errorf(n, ref, "missing name")
	case r.name == "":
		d.Errorf(nameNode, ref, "name must be a non-empty string")
	case r.name == DefaultRuleName:
		d.Errorf(nameNode, ref, "the name %q is reserved for the default severity", DefaultRuleName)
	}

	var hasWhen, hasSeverity bool
	d.Mapping(n, ref, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			// Read above.
		case "description", "user_impact", "team", "runbook":
			s, ok := d.Scalar(v, ref, key)
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
		case "drop":
			r.drop = d.drop(v, ref, stage)
		default:
			d.Errorf(k, ref, "unknown key %q: want name, description, when, severity, impact, user_impact, team, runbook, labels or drop", key)
		}
	})
	if !hasWhen {
		d.Errorf(n, ref, "missing when: the condition under which the rule applies")
	}
	switch {
	case r.drop && hasSeverity:
		d.Errorf(n, ref, "a rule with drop: true gives no severity: the alert it matches is dropped, not reported; remove severity")
	case !hasSeverity && !r.drop:
		d.Errorf(n, ref, "missing severity: P1, P2, P3, P4 or an expression yielding one")
	}
	return r
}

// drop reads a rule's drop key: true or false, and only on a classification rule, since an
// escalation comes after the alert was taken.
func (d *decoder) drop(n *yaml.Node, rule string, stage Stage) bool {
	s, ok := d.Scalar(n, rule, "drop")
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		d.Errorf(n, rule, "drop must be true or false, not %q", s)
		return false
	}
	if b && stage == StageEscalate {
		d.Errorf(n, rule, "drop is for classification rules (under rules:), not escalations")
	}
	return b
}

// expression reads an expression and the position of its first character.
func (d *decoder) expression(n *yaml.Node, rule, key string) exprSource {
	s, ok := d.Scalar(n, rule, key)
	if !ok {
		return exprSource{}
	}
	if strings.TrimSpace(s) == "" {
		d.Errorf(n, rule, "%s is empty", key)
		return exprSource{}
	}
	return exprSource{text: strings.TrimRight(s, " \t\r\n"), pos: d.TextPos(n)}
}

func (d *decoder) impact(n *yaml.Node, rule string, imp *triaged.Impact) {
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, rule, "impact must be a list of %s, not a %s", strings.Join(impactNames, ", "), yamlnode.KindName(n))
		return
	}
	for _, item := range n.Content {
		item = yamlnode.Resolve(item)
		s, ok := d.Scalar(item, rule, "impact")
		if !ok {
			continue
		}
		if !setImpact(imp, s) {
			d.Errorf(item, rule, "unknown impact %q: want one of %s", s, strings.Join(impactNames, ", "))
		}
	}
}

func (d *decoder) labels(n *yaml.Node, rule string) map[string]string {
	if yamlnode.IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, rule, "labels must be a mapping of names to strings, not a %s", yamlnode.KindName(n))
		return nil
	}
	labels := make(map[string]string, len(n.Content)/2)
	d.Mapping(n, rule, func(key string, k, v *yaml.Node) {
		if !labelName.MatchString(key) {
			d.Errorf(k, rule, "invalid label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", key)
			return
		}
		if s, ok := d.Scalar(v, rule, "label "+strconv.Quote(key)); ok {
			labels[key] = s
		}
	})
	return labels
}

// labelName is Prometheus' label name syntax, so that rule labels can become metric or
// Alertmanager labels downstream.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
