package runbooks

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/vm"

	"github.com/triaged/triaged/internal/exprpolicy"
)

// MaxNodes bounds the size of one match expression (expr's node budget), the same bound the
// severity rules and the catalog have, so that a runbook cannot hold an expression that is slow
// to compile or run.
const MaxNodes = exprpolicy.MaxNodes

// compileMatch compiles a match expression against Env under the policy shared with the rules
// and the catalog: it must yield a bool, may not read the clock (which runbook applies depends on
// the incident alone), and the pattern of `matches` must be a string literal.
func compileMatch(text string) (*vm.Program, error) {
	return exprpolicy.Compile(text, exprpolicy.Spec{Env: Env{}, Kind: reflect.Bool, Yields: "true or false", Split: "split it or use a regular expression"})
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
