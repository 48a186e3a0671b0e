package runbooks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// MaxNodes bounds the size of one match expression (expr's node budget), the same bound the
// severity rules have, so that a runbook cannot hold an expression that is slow to compile or run.
const MaxNodes = 500

// disabledBuiltins are expr builtins a match expression may not call: now(), date() and
// timezone() read the wall clock or the system's time zone database, and a runbook reaches
// nothing outside its Env. Which runbook applies must depend on the incident alone.
var disabledBuiltins = []string{"now", "date", "timezone"}

// patternChecks is an expr patcher that requires the pattern of `matches` to be a string
// literal: expr then compiles the regular expression once, at load time, so a bad pattern is a
// load error and an alert's label can never become a pattern.
type patternChecks struct {
	err *file.Error
}

func (c *patternChecks) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.BinaryNode)
	if !ok || n.Operator != "matches" || c.err != nil {
		return
	}
	if _, ok := n.Right.(*ast.StringNode); !ok {
		c.err = &file.Error{Location: n.Right.Location(), Message: "the pattern of matches must be a string literal (it is compiled once, at load time)"}
	}
}

// compileMatch compiles a match expression against Env; it must yield a bool.
func compileMatch(text string) (*vm.Program, error) {
	checks := &patternChecks{}
	opts := []expr.Option{expr.Env(Env{}), expr.AsBool(), expr.MaxNodes(MaxNodes), expr.Patch(checks)}
	for _, name := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	program, err := expr.Compile(text, opts...)
	var fe *file.Error
	switch {
	case errors.As(err, &fe) && strings.Contains(fe.Message, "exceeds maximum allowed nodes"):
		// expr's snippet would be the whole expression with a caret at its end.
		return nil, fmt.Errorf("too large: more than %d nodes; split it or use a regular expression", MaxNodes)
	case err != nil && strings.HasPrefix(err.Error(), "expected "):
		// expr says only "expected bool, but got string", without a position.
		return nil, fmt.Errorf("must yield true or false: %w", err)
	case err != nil:
		return nil, err
	case checks.err != nil:
		return nil, checks.err.Bind(file.NewSource(text))
	}
	return program, nil
}

// run evaluates a compiled match expression. expr turns a panic inside the VM into an error;
// the recover here also covers what it does not, so that one runbook can never stop triage.
func run(m *vm.VM, program *vm.Program, env *Env) (matched bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			matched, err = false, fmt.Errorf("panic: %v", r)
		}
	}()
	out, err := m.Run(program, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("yielded %T, not a bool", out)
	}
	return b, nil
}
