package rules

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/triaged/triaged"
)

// MaxNodes bounds the size of one expression (expr's node budget), so that a rule file cannot
// hold an expression that takes long to compile or run.
const MaxNodes = 500

// disabledBuiltins are expr builtins rules may not call: now() because rules must see the
// evaluation time (a unit test sets it), not the wall clock; date() and timezone() because they
// read the system's time zone database, and rules reach nothing outside their environment.
var disabledBuiltins = []string{"now", "date", "timezone"}

// exprOptions are the options every rule expression is compiled with. checks must be fresh for
// each compilation: it records the first problem it finds.
func exprOptions(env any, checks *loadChecks, extra ...expr.Option) []expr.Option {
	opts := []expr.Option{expr.Env(env), expr.MaxNodes(MaxNodes), expr.Patch(checks)}
	for _, name := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	return append(opts, extra...)
}

// loadChecks is an expr patcher that does at load time what would otherwise be done (or fail)
// for every alert:
//   - duration("15m") with a literal becomes a constant, so a bad literal is a load error and a
//     good one costs nothing per alert;
//   - the pattern of `matches` must be a string literal: expr then compiles the regular
//     expression once, at load time, and an alert's labels can never become a pattern.
type loadChecks struct {
	err *file.Error
}

func (c *loadChecks) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if n.Name != "duration" || len(n.Arguments) != 1 {
			return
		}
		lit, ok := n.Arguments[0].(*ast.StringNode)
		if !ok {
			return
		}
		d, err := time.ParseDuration(lit.Value)
		if err != nil {
			c.fail(n, fmt.Sprintf("invalid duration %q: want e.g. 90s, 15m, 1h30m", lit.Value))
			return
		}
		ast.Patch(node, &ast.ConstantNode{Value: d})
	case *ast.BinaryNode:
		if n.Operator != "matches" {
			return
		}
		if _, ok := n.Right.(*ast.StringNode); !ok {
			c.fail(n.Right, "the pattern of matches must be a string literal (it is compiled once, at load time)")
		}
	}
}

func (c *loadChecks) fail(n ast.Node, msg string) {
	if c.err == nil {
		c.err = &file.Error{Location: n.Location(), Message: msg}
	}
}

// compileExpr compiles one expression against env, expecting a result of the given kind.
func compileExpr(text string, env any, kind reflect.Kind) (*vm.Program, error) {
	checks := &loadChecks{}
	program, err := expr.Compile(text, exprOptions(env, checks, expr.AsKind(kind))...)
	var fe *file.Error
	if errors.As(err, &fe) && strings.Contains(fe.Message, "exceeds maximum allowed nodes") {
		// expr's snippet would be the whole expression with a caret at its end.
		return nil, fmt.Errorf("too large: more than %d nodes; split it into several rules", MaxNodes)
	}
	if err != nil {
		return nil, err
	}
	if checks.err != nil {
		return nil, checks.err.Bind(file.NewSource(text))
	}
	return program, nil
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
		errs = append(errs, &Error{Pos: src.pos, Rule: spec.ref(), Err: fmt.Errorf("%s: %w", key, err)})
	}
	env := envFor(spec.stage)

	if spec.when.text != "" {
		program, err := compileExpr(spec.when.text, env, reflect.Bool)
		if err != nil {
			fail(spec.when, "when", explainKindError(err, "a condition"))
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
		program, err := compileExpr(sev, env, reflect.String)
		switch {
		case err != nil && looksLikeSeverity.MatchString(sev):
			fail(spec.severity, "severity", fmt.Errorf("invalid severity %q: want P1, P2, P3, P4 or an expression yielding one", sev))
		case err != nil:
			fail(spec.severity, "severity", explainKindError(err, "one of \"P1\"..\"P4\""))
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

// explainKindError rewords expr's positionless "expected bool, but got string", which is all it
// says when an expression yields the wrong type.
func explainKindError(err error, want string) error {
	if strings.HasPrefix(err.Error(), "expected ") {
		return fmt.Errorf("must yield %s: %w", want, err)
	}
	return err
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
	ast.Walk(&root, visitFunc(func(n *ast.Node) {
		switch (*n).(type) {
		case *ast.IdentifierNode, *ast.PointerNode:
			readsSomething = true
		}
	}))
	if readsSomething {
		return false, false
	}
	out, err := expr.Run(program, &EscalationEnv{})
	b, ok := out.(bool)
	return b, err == nil && ok
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
