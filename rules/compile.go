package rules

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/exprpolicy"
	"github.com/triaged/triaged/internal/srcpos"
)

// MaxNodes bounds the size of one expression (expr's node budget), so that a rule file cannot
// hold an expression that takes long to compile or run. Runbooks and the catalog have the same.
const MaxNodes = exprpolicy.MaxNodes

// The cost bounds of a rule (see README.md, "Cost limits"): constants rather than settings, so
// that a file `triagetool check rules` accepts means the same in every daemon.
const (
	// MaxRange is the most elements a range may have; its bounds must be integer literals.
	MaxRange = exprpolicy.MaxRange
	// MaxGrowth is how many times the size of the values it reads a string a rule builds may be.
	MaxGrowth = exprpolicy.MaxGrowth
	// MaxSplit is the most parts split() and splitAfter() yield; more fail the evaluation.
	MaxSplit = exprpolicy.MaxSplit
	// MemoryBudget is the most list and map elements one evaluation may build.
	MemoryBudget = exprpolicy.MemoryBudget
)

// compileExpr compiles one expression against env, expecting a result of the given kind: a
// condition (bool) or a severity (string).
func compileExpr(text string, env any, kind reflect.Kind) (*vm.Program, error) {
	program, _, err := compileExprRefs(text, env, kind)
	return program, err
}

// compileExprRefs is compileExpr that also returns the metric names the expression reads.
func compileExprRefs(text string, env any, kind reflect.Kind) (*vm.Program, []metricRef, error) {
	yields := "a condition"
	if kind == reflect.String {
		yields = `one of "P1".."P4"`
	}
	metrics := &metricsPatch{}
	program, err := exprpolicy.Compile(text, exprpolicy.Spec{
		Env: env, Kind: kind, Yields: yields, Split: "split it into several rules", In: "rules",
		Patch: []ast.Visitor{metrics},
	})
	return program, metrics.refs, err
}

// rule is a compiled rule: its text, its programs, and what lint needs to know about it.
type rule struct {
	ruleSpec
	whenProgram *vm.Program
	// severityLiteral is the severity when the rule names one; 0 when severityProgram decides.
	severityLiteral triaged.Severity
	severityProgram *vm.Program
	// constant is set when the condition does not depend on the alert: always or never true.
	constant *bool
	// condition is the condition as expr prints it after optimisation, to find rules whose
	// conditions are the same.
	condition string
	// reason is what a Decision made by this rule says.
	reason string
	// metricRefs are the metric names its expressions read by a literal (escalation rules).
	metricRefs []exprMetricRef
}

// envFor returns the environment a stage's expressions are compiled against.
func envFor(stage Stage) any {
	if stage == StageEscalate {
		return EscalationEnv{}
	}
	return Env{}
}

var severityLiteral = regexp.MustCompile(`^[Pp][1-4]$`)

// looksLikeSeverity matches what an author probably meant as a severity rather than an
// expression: P0, p5, critical, HIGH.
var looksLikeSeverity = regexp.MustCompile(`^([Pp][0-9]+|[A-Za-z]+)$`)

// compileRule compiles a rule's expressions; every problem becomes an *Error.
func compileRule(spec ruleSpec) (*rule, []error) {
	r := &rule{ruleSpec: spec}
	var errs []error
	fail := func(src exprSource, key string, err error) {
		if spec.stage == StageClassify {
			explainEscalationName(err)
		}
		errs = append(errs, srcpos.Errorf(src.pos, spec.ref(), "%s: %w", key, err))
	}
	env := envFor(spec.stage)
	addRefs := func(src exprSource, key string, refs []metricRef) {
		for _, ref := range refs {
			r.metricRefs = append(r.metricRefs, exprMetricRef{metricRef: ref, src: src, key: key})
		}
	}

	if spec.when.text != "" {
		program, refs, err := compileExprRefs(spec.when.text, env, reflect.Bool)
		addRefs(spec.when, "when", refs)
		if err != nil {
			fail(spec.when, "when", err)
		} else {
			r.whenProgram = program
			r.condition = program.Node().String()
			if b, ok := constantBool(program); ok {
				r.constant = &b
			}
		}
	}

	switch sev := spec.severity.text; {
	case sev == "":
	case severityLiteral.MatchString(sev):
		r.severityLiteral, _ = triaged.ParseSeverity(sev)
	default:
		program, refs, err := compileExprRefs(sev, env, reflect.String)
		addRefs(spec.severity, "severity", refs)
		switch {
		case err != nil && looksLikeSeverity.MatchString(sev):
			fail(spec.severity, "severity", fmt.Errorf("invalid severity %q: want P1, P2, P3, P4 or an expression yielding one", sev))
		case err != nil:
			fail(spec.severity, "severity", err)
		default:
			if err := checkSeverityLiterals(program.Node(), sev); err != nil {
				fail(spec.severity, "severity", err)
			}
			r.severityProgram = program
		}
	}

	r.reason = spec.description
	if r.reason == "" {
		r.reason = "when: " + spec.when.text
	}
	return r, errs
}

// constantBool reports whether a condition does not depend on the alert, and its value then.
// expr's optimiser folds `true || x` but not `1 > 2`, so an expression that reads nothing at all
// (no identifier: no field, no helper, no variable) is also run once to find its value.
func constantBool(program *vm.Program) (value, ok bool) {
	switch n := program.Node().(type) {
	case *ast.BoolNode:
		return n.Value, true
	case *ast.ConstantNode:
		b, ok := n.Value.(bool)
		return b, ok
	}
	readsSomething := false
	root := program.Node()
	// split and splitAfter are calls of functions (exprpolicy bounds them), not reads.
	functions := map[*ast.IdentifierNode]bool{}
	ast.Walk(&root, visitFunc(func(n *ast.Node) {
		if call, ok := (*n).(*ast.CallNode); ok {
			if id, ok := call.Callee.(*ast.IdentifierNode); ok && (id.Value == "split" || id.Value == "splitAfter") {
				functions[id] = true
			}
		}
	}))
	ast.Walk(&root, visitFunc(func(n *ast.Node) {
		switch n := (*n).(type) {
		case *ast.IdentifierNode:
			readsSomething = readsSomething || !functions[n]
		case *ast.PointerNode:
			readsSomething = true
		}
	}))
	if readsSomething {
		return false, false
	}
	out, err := exprpolicy.Run(program, &EscalationEnv{})
	b, ok := out.(bool)
	return b, err == nil && ok
}

// escalationNames are the names only escalation rules see: EscalationEnv's own.
var escalationNames = func() map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeFor[EscalationEnv]()
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" {
			names[tag] = true
		}
	}
	return names
}()

// explainEscalationName says why a classification rule does not know an escalation rule's name
// (failed_probes, metrics): it is not misspelt, it is too early.
func explainEscalationName(err error) {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return
	}
	if name, ok := strings.CutPrefix(fe.Message, "unknown name "); ok && escalationNames[name] {
		fe.Message += ": only escalation rules see it (enrichment has not run yet when classification does)"
	}
}

type visitFunc func(*ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(n) }

// checkSeverityLiterals finds, among the values a severity expression can yield, the string
// literals that are not a severity: in `env == "prod" ? "P1" : "P5"` the "P5" is an error at load
// time rather than for the alerts that reach it.
func checkSeverityLiterals(n ast.Node, source string) error {
	switch n := n.(type) {
	case *ast.ConditionalNode:
		if err := checkSeverityLiterals(n.Exp1, source); err != nil {
			return err
		}
		return checkSeverityLiterals(n.Exp2, source)
	case *ast.StringNode:
		if _, err := triaged.ParseSeverity(n.Value); err != nil {
			fe := &file.Error{Location: n.Location(), Message: fmt.Sprintf("invalid severity %q: want one of P1, P2, P3, P4", n.Value)}
			return fe.Bind(file.NewSource(source))
		}
	}
	return nil
}

// evalCondition runs a rule's condition for one alert.
func (r *rule) evalCondition(m *vm.VM, env any) (bool, error) {
	out, err := m.Run(r.whenProgram, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("when yielded %T, not a bool", out)
	}
	return b, nil
}

// evalSeverity returns the severity a matched rule assigns.
func (r *rule) evalSeverity(m *vm.VM, env any) (triaged.Severity, error) {
	if r.severityProgram == nil {
		return r.severityLiteral, nil
	}
	out, err := m.Run(r.severityProgram, env)
	if err != nil {
		return 0, fmt.Errorf("severity: %w", err)
	}
	s, ok := out.(string)
	if !ok {
		return 0, fmt.Errorf("severity yielded %T, not a string", out)
	}
	sev, err := triaged.ParseSeverity(s)
	if err != nil {
		return 0, fmt.Errorf("severity: %w", err)
	}
	return sev, nil
}
