package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/exprpolicy"
	"github.com/triaged/triaged/internal/srcpos"
)

// FallbackSeverity applies to alerts no rule matches when no rule file sets a default. It is the
// middle of the scale on purpose: an unknown alert is neither ignored nor paged as an outage, and
// lint warns that the default is missing.
const FallbackSeverity = triaged.P3

// RuleSet is a compiled, immutable set of rules: the classification rules in order, the
// escalation rules in order, and the default severity. It is safe for concurrent use; a reload
// builds a new RuleSet rather than changing one.
type RuleSet struct {
	files           []string
	version         string
	rules           []*rule
	escalations     []*rule
	defaultSeverity triaged.Severity
	defaultPos      Position // zero when FallbackSeverity applies
	warnings        []Warning
	// fast is the classification rules as one program, nil if it could not be built; classify
	// then runs the rules one by one, as it does anyway when fast fails at run time.
	fast *fastProgram
}

type source struct {
	name string
	data []byte
}

// Parse compiles one rule file. All problems of the file are reported at once, joined with
// errors.Join, each an *Error that prints as `FILE:LINE:COL: rule "NAME": message`.
func Parse(filename string, data []byte) (*RuleSet, error) {
	return build([]source{{filename, data}})
}

// LoadFiles reads and compiles rule files as one rule set: their rules and escalations are
// concatenated in the order of the files, and at most one of them may set the default. With no
// files it returns Default().
func LoadFiles(paths ...string) (*RuleSet, error) {
	if len(paths) == 0 {
		return Default(), nil
	}
	sources := make([]source, 0, len(paths))
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read rule file: %w", err))
			continue
		}
		sources = append(sources, source{p, data})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return build(sources)
}

// build compiles sources into a RuleSet, or reports every problem found in any of them.
func build(sources []source) (*RuleSet, error) {
	rs := &RuleSet{defaultSeverity: FallbackSeverity}
	hash := sha256.New()
	var errs []error
	var defaultFile string
	for _, src := range sources {
		rs.files = append(rs.files, src.name)
		hash.Write(src.data)
		spec, fileErrs := decodeFile(src.name, src.data)
		errs = append(errs, fileErrs...)
		if spec == nil {
			continue
		}
		if spec.defaultSeverity != 0 {
			if defaultFile != "" {
				errs = append(errs, &Error{Pos: spec.defaultPos, Err: fmt.Errorf("default: already set at %s; only one rule file may set it", rs.defaultPos)})
			} else {
				defaultFile = src.name
				rs.defaultSeverity, rs.defaultPos = spec.defaultSeverity, spec.defaultPos
			}
		}
		for _, s := range spec.rules {
			r, ruleErrs := compileRule(s)
			errs = append(errs, ruleErrs...)
			rs.rules = append(rs.rules, r)
		}
		for _, s := range spec.escalations {
			r, ruleErrs := compileRule(s)
			errs = append(errs, ruleErrs...)
			rs.escalations = append(rs.escalations, r)
		}
	}
	if len(errs) > 0 {
		srcpos.Sort(errs, rs.files)
		return nil, errors.Join(errs...)
	}
	rs.version = hex.EncodeToString(hash.Sum(nil))[:12]
	rs.warnings = lint(rs)
	rs.fast, _ = buildFastProgram(rs.rules) // on failure: rule-by-rule evaluation, same results
	return rs, nil
}

// Version identifies the rule set by content: the first 12 hex digits of the SHA-256 of its
// files' bytes in order, so `cat FILES | sha256sum` reproduces it. Reports and the
// triaged_rules_info metric carry it.
func (rs *RuleSet) Version() string { return rs.version }

// Files lists the files the rule set was loaded from, in order.
func (rs *RuleSet) Files() []string { return slices.Clone(rs.files) }

// Warnings lists the lint findings of the rule set; they do not stop it from loading.
func (rs *RuleSet) Warnings() []Warning { return slices.Clone(rs.warnings) }

// DefaultSeverity is the severity of alerts no rule matches.
func (rs *RuleSet) DefaultSeverity() triaged.Severity { return rs.defaultSeverity }

// RuleInfo describes one rule, for listings and metrics.
type RuleInfo struct {
	Stage       Stage
	Name        string
	Description string
	Pos         Position
	// When is the condition as written; Severity the severity as written (P1..P4 or an
	// expression), "" for a rule that drops what it matches (Drop).
	When     string
	Severity string
	Drop     bool
}

// Rules lists the rules of a stage in evaluation order.
func (rs *RuleSet) Rules(stage Stage) []RuleInfo {
	list := rs.rules
	if stage == StageEscalate {
		list = rs.escalations
	}
	infos := make([]RuleInfo, len(list))
	for i, r := range list {
		infos[i] = RuleInfo{Stage: stage, Name: r.name, Description: r.description, Pos: r.pos,
			When: r.when.text, Severity: r.severity.text, Drop: r.drop}
	}
	return infos
}

// Classify decides an alert's severity at time now: the first rule whose condition holds
// decides, else the default applies. Hour, weekday and business_hours() are taken in now's time
// zone. It never panics; a rule that fails at run time is skipped (see ClassifyWithErrors).
func (rs *RuleSet) Classify(a *triaged.Alert, svc triaged.Service, now time.Time) triaged.Classification {
	c, _ := rs.ClassifyWithErrors(a, svc, now)
	return c
}

// ClassifyWithErrors is Classify that also returns the rules that failed at run time and were
// skipped.
func (rs *RuleSet) ClassifyWithErrors(a *triaged.Alert, svc triaged.Service, now time.Time) (triaged.Classification, []RuleError) {
	c, _, errs := rs.classify(a, svc, now)
	return c, errs
}

// classify is ClassifyWithErrors that also returns the index of the deciding rule in rs.rules,
// -1 when the default applied, so that the engine counts matches per compiled rule.
func (rs *RuleSet) classify(a *triaged.Alert, svc triaged.Service, now time.Time) (triaged.Classification, int, []RuleError) {
	env := newEnv(a, svc, now)
	m := exprpolicy.Borrow()
	defer exprpolicy.Return(m)

	var errs []RuleError
	start := 0
	if rs.fast != nil {
		i, err := rs.fast.run(m, env)
		switch {
		case err != nil:
			// Some rule failed: go rule by rule from the start, which finds and skips it.
		case i < 0:
			return rs.defaultClassification(), -1, nil
		default:
			r := rs.rules[i]
			sev, err := r.evalSeverity(m, env)
			if err == nil {
				return rs.decide(r, sev), i, nil
			}
			errs = append(errs, RuleError{Stage: StageClassify, Rule: r.name, Err: err})
			start = i + 1
		}
	}
	for i := start; i < len(rs.rules); i++ {
		r := rs.rules[i]
		ok, err := r.evalCondition(m, env)
		if err == nil && ok {
			var sev triaged.Severity
			if sev, err = r.evalSeverity(m, env); err == nil {
				return rs.decide(r, sev), i, errs
			}
		}
		if err != nil {
			errs = append(errs, RuleError{Stage: StageClassify, Rule: r.name, Err: err})
		}
	}
	return rs.defaultClassification(), -1, errs
}

func (rs *RuleSet) decide(r *rule, sev triaged.Severity) triaged.Classification {
	if r.drop {
		return triaged.Classification{
			Rule:           r.name,
			RuleSetVersion: rs.version,
			Decisions:      []triaged.Decision{{Stage: string(StageClassify), Rule: r.name, Reason: "dropped: " + r.reason}},
			Dropped:        true,
		}
	}
	return triaged.Classification{
		Severity:       sev,
		Rule:           r.name,
		RuleSetVersion: rs.version,
		Decisions:      []triaged.Decision{{Stage: string(StageClassify), Rule: r.name, Severity: sev, Reason: r.reason}},
		Impact:         r.impact,
		UserImpact:     r.userImpact,
		Team:           r.team,
		Runbook:        r.runbook,
		Labels:         maps.Clone(r.labels),
	}
}

func (rs *RuleSet) defaultClassification() triaged.Classification {
	return triaged.Classification{
		Severity:       rs.defaultSeverity,
		RuleSetVersion: rs.version,
		Decisions: []triaged.Decision{{
			Stage: string(StageClassify), Severity: rs.defaultSeverity,
			Reason: "no rule matched: the rule set's default severity",
		}},
	}
}

// Escalate runs the escalation rules over what enrichment found. Every rule whose condition
// holds applies in order: it may raise the severity (never lower it), adds its impact, and
// records a Decision with Stage "escalate"; later rules see the raised severity.
func (rs *RuleSet) Escalate(c triaged.Classification, a *triaged.Alert, svc triaged.Service, f triaged.Enrichment, now time.Time) triaged.Classification {
	c, _ = rs.EscalateWithErrors(c, a, svc, f, now)
	return c
}

// EscalateWithErrors is Escalate that also returns the rules that failed at run time and were
// skipped.
func (rs *RuleSet) EscalateWithErrors(c triaged.Classification, a *triaged.Alert, svc triaged.Service, f triaged.Enrichment, now time.Time) (triaged.Classification, []RuleError) {
	return rs.escalate(c, a, svc, f, now, nil)
}

// escalate is EscalateWithErrors that calls applied, when not nil, with the index in
// rs.escalations of each rule that applied.
func (rs *RuleSet) escalate(c triaged.Classification, a *triaged.Alert, svc triaged.Service, f triaged.Enrichment, now time.Time, applied func(int)) (triaged.Classification, []RuleError) {
	c = rs.stampVersion(c)
	if len(rs.escalations) == 0 || c.Dropped {
		return c, nil
	}
	env := newEscalationEnv(c, a, svc, f, now)
	m := exprpolicy.Borrow()
	defer exprpolicy.Return(m)

	var errs []RuleError
	for i, r := range rs.escalations {
		sev, ok, err := r.evalEscalation(m, env)
		if err != nil {
			errs = append(errs, RuleError{Stage: StageEscalate, Rule: r.name, Err: err})
			continue
		}
		if ok {
			c = r.apply(c, sev)
			env.Severity = c.Severity.String()
			if applied != nil {
				applied(i)
			}
		}
	}
	return c, errs
}

// stampVersion records which rule set an escalation ran on. When it is not the one that
// classified (a reload in between), both versions are kept: "classifier+escalator".
func (rs *RuleSet) stampVersion(c triaged.Classification) triaged.Classification {
	switch c.RuleSetVersion {
	case "":
		c.RuleSetVersion = rs.version
	case rs.version:
	default:
		c.RuleSetVersion += "+" + rs.version
	}
	return c
}

// evalEscalation evaluates an escalation rule: whether it matches and the severity it names.
func (r *rule) evalEscalation(m *vm.VM, env *EscalationEnv) (triaged.Severity, bool, error) {
	ok, err := r.evalCondition(m, env)
	if err != nil || !ok {
		return 0, false, err
	}
	sev, err := r.evalSeverity(m, env)
	if err != nil {
		return 0, false, err
	}
	return sev, true, nil
}

// apply records a matched escalation rule: the severity rises to sev if that is more urgent,
// the rule's impact is added, and its other facts replace the classification's where it sets
// them.
func (r *rule) apply(c triaged.Classification, sev triaged.Severity) triaged.Classification {
	reason := r.reason
	if sev < c.Severity {
		reason += fmt.Sprintf(" (raised from %s)", c.Severity)
		c.Severity = sev
	} else {
		reason += fmt.Sprintf(" (stays %s)", c.Severity)
	}
	// Clip, so that appending never writes into a slice the caller still holds.
	c.Decisions = append(slices.Clip(c.Decisions), triaged.Decision{
		Stage: string(StageEscalate), Rule: r.name, Severity: c.Severity, Reason: reason,
	})
	c.Impact.ProductionDown = c.Impact.ProductionDown || r.impact.ProductionDown
	c.Impact.FeatureDegraded = c.Impact.FeatureDegraded || r.impact.FeatureDegraded
	c.Impact.DataIntegrity = c.Impact.DataIntegrity || r.impact.DataIntegrity
	c.Impact.Security = c.Impact.Security || r.impact.Security
	if r.userImpact != "" {
		c.UserImpact = r.userImpact
	}
	if r.team != "" {
		c.Team = r.team
	}
	if r.runbook != "" {
		c.Runbook = r.runbook
	}
	if len(r.labels) > 0 {
		labels := maps.Clone(c.Labels)
		if labels == nil {
			labels = make(map[string]string, len(r.labels))
		}
		maps.Copy(labels, r.labels)
		c.Labels = labels
	}
	return c
}
