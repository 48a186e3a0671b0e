// Package exprpolicy is the one policy every expr expression a user writes is compiled and run
// under — severity rules, runbook matches, catalog matches: a node budget, no builtin that reads
// the clock or the system, regular expressions compiled once from literals, a cost that grows at
// most linearly with the alert (cost.go: what could not be bounded is refused at load; split and
// the VM's memory budget are bounded at run time), expr's terse errors reworded to say what to
// fix, and a pool of VMs so that running a program allocates none.
package exprpolicy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
)

// MaxNodes bounds the size of one expression (expr's node budget), so that a file cannot hold an
// expression that takes long to compile or run.
const MaxNodes = 500

// disabledBuiltins are the expr builtins no expression may call: now() because what an
// expression decides must depend on its environment alone (rules see the evaluation time, which
// a unit test sets, not the wall clock); date() and timezone() because they read the system's
// time zone database.
var disabledBuiltins = []string{"now", "date", "timezone"}

// Spec is what one kind of expression is compiled for.
type Spec struct {
	// Env is the zero value of the environment, e.g. rules.Env{}: its expr tags are the
	// vocabulary.
	Env any
	// Kind is what the expression must yield; reflect.Invalid for anything.
	Kind reflect.Kind
	// Yields names Kind in the error for a wrong type: "must yield true or false: expected
	// bool, but got string".
	Yields string
	// Split is the advice when the expression is over the node budget, e.g. "split it into
	// several rules".
	Split string
	// In names the expressions in a refusal, e.g. "rules": "repeat() is not allowed in rules".
	In string
	// Patch are the vocabulary's own rewrites, run after the policy's checks and before type
	// checking, e.g. the rules' reading of a metric without a value as NaN rather than 0.
	Patch []ast.Visitor
}

// Compile compiles text under the policy. Every problem is a load error: one that expr places
// carries its (line:column) and a caret snippet of text.
func Compile(text string, s Spec) (*vm.Program, error) {
	c := &checks{}
	config := conf.CreateNew()
	for _, opt := range options(s.Env, c) {
		opt(config)
	}
	for _, v := range s.Patch {
		expr.Patch(v)(config)
	}
	if s.Kind != reflect.Invalid {
		expr.AsKind(s.Kind)(config)
	}
	for name := range config.Disabled {
		delete(config.Builtins, name)
	}
	config.Check()

	// expr.Compile's steps, with the cost check between type checking (which it needs) and
	// optimisation (which folds ranges into constants).
	tree, err := checker.ParseCheck(text, config)
	var fe *file.Error
	switch {
	case errors.As(err, &fe) && strings.Contains(fe.Message, "exceeds maximum allowed nodes"):
		// expr's snippet would be the whole expression with a caret at its end.
		return nil, fmt.Errorf("too large: more than %d nodes; %s", MaxNodes, s.Split)
	case err != nil && s.Yields != "" && strings.HasPrefix(err.Error(), "expected "):
		// expr says only "expected bool, but got string", without a position.
		return nil, fmt.Errorf("must yield %s: %w", s.Yields, err)
	case err != nil:
		return nil, err
	case c.err != nil:
		return nil, c.err.Bind(tree.Source)
	}
	in := ""
	if s.In != "" {
		in = " in " + s.In
	}
	if ce := costCheck(tree.Node, in); ce != nil {
		return nil, ce.Bind(tree.Source)
	}
	if err := optimizer.Optimize(&tree.Node, config); err != nil {
		if errors.As(err, &fe) {
			return nil, fe.Bind(tree.Source)
		}
		return nil, err
	}
	return compiler.Compile(tree, config)
}

// Options are the policy's expr options for env, then extra. They are for a program put
// together from expressions that Compile has already accepted one by one (the rules' fast path):
// the problems the policy's checks find there are not reported, Compile reported them.
func Options(env any, extra ...expr.Option) []expr.Option {
	return append(options(env, &checks{}), extra...)
}

func options(env any, c *checks) []expr.Option {
	opts := []expr.Option{expr.Env(env), expr.MaxNodes(MaxNodes), expr.Patch(c)}
	for _, name := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	return append(opts, boundedSplit()...)
}

// checks is an expr patcher that does at load time what would otherwise be done (or fail) on
// every run:
//   - duration("15m") with a literal becomes a constant, so a bad literal is a load error and a
//     good one costs nothing per run;
//   - the pattern of `matches` must be a string literal: expr then compiles the regular
//     expression once, at load time, so a bad pattern is a load error and an alert's label can
//     never become a pattern.
//
// A checks records the first problem it finds, so each compilation needs a fresh one.
type checks struct {
	err *file.Error
}

func (c *checks) Visit(node *ast.Node) {
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

func (c *checks) fail(n ast.Node, msg string) {
	if c.err == nil {
		c.err = &file.Error{Location: n.Location(), Message: msg}
	}
}

// vms reuses expr virtual machines: a VM keeps its stack between runs, so running many programs
// for one alert allocates no stack.
var vms = sync.Pool{New: func() any { return new(vm.VM) }}

// Borrow takes a VM from the pool, for a caller that runs several programs in a row; give it
// back with Return. A VM is not safe for concurrent use.
func Borrow() *vm.VM {
	m := vms.Get().(*vm.VM)
	m.MemoryBudget = MemoryBudget
	return m
}

// Return gives a VM taken with Borrow back to the pool.
func Return(m *vm.VM) { vms.Put(m) }

// Run runs one program for env on a pooled VM.
func Run(program *vm.Program, env any) (any, error) {
	m := Borrow()
	defer Return(m)
	return m.Run(program, env)
}

// Headline is the first line of an error from running or compiling an expression: expr's
// caret snippet takes two more lines, too many for a one-line reason.
func Headline(err error) string {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return first
}
