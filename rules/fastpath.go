package rules

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/triaged/triaged/internal/exprpolicy"
)

// fastProgram is the list of classification conditions compiled into a single expr program that
// yields the index of the first matching rule, or -1:
//
//	let v0 = alertname; let v1 = labels["severity"]; ...
//	(when of rule 0) ? 0 : (when of rule 1) ? 1 : ... : -1
//
// Why: expr reads a struct field or a map entry through reflection and boxes the string it finds,
// one allocation per read. Run rule by rule, 200 rules that each read alertname cost 200
// allocations per alert. Here every field and every label read with a literal key is read once per
// alert into a variable, so the cost of an alert grows with the rule list only by cheap variable
// loads and comparisons, and its allocations not at all.
//
// The program is an optimisation, never a second semantics: if it fails at run time (some rule
// errs), classification starts over rule by rule from the separately compiled programs, which
// find, report and skip the failing rule. Explain always goes rule by rule.
type fastProgram struct {
	program *vm.Program
}

func (f *fastProgram) run(m *vm.VM, env *Env) (int, error) {
	out, err := m.Run(f.program, env)
	if err != nil {
		return 0, err
	}
	i, ok := out.(int)
	if !ok {
		return 0, fmt.Errorf("fast program yielded %T", out)
	}
	return i, nil
}

// envFields are the Env fields a rule reads as plain values (not the helper functions), and
// whether each is a map.
var envFields = func() map[string]bool {
	fields := map[string]bool{}
	t := reflect.TypeFor[Env]()
	for i := range t.NumField() {
		f := t.Field(i)
		if name := f.Tag.Get("expr"); name != "" && f.Type.Kind() != reflect.Func {
			fields[name] = f.Type.Kind() == reflect.Map
		}
	}
	return fields
}()

func buildFastProgram(rules []*rule) (*fastProgram, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	config := conf.CreateNew()
	// Each condition was compiled alone within MaxNodes; together they are larger by design.
	for _, opt := range exprpolicy.Options(Env{}, expr.AsInt(), expr.MaxNodes(0)) {
		opt(config)
	}
	for name := range config.Disabled {
		delete(config.Builtins, name)
	}
	config.Check()

	h := &hoister{vars: map[hoistKey]string{}, uses: map[string]int{}}
	conds := make([]ast.Node, len(rules))
	for i, r := range rules {
		tree, err := parser.ParseWithConfig(r.when.text, config)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.name, err)
		}
		ast.Walk(&tree.Node, h)
		conds[i] = tree.Node
	}

	var body ast.Node = &ast.IntegerNode{Value: -1}
	for i := len(rules) - 1; i >= 0; i-- {
		body = &ast.ConditionalNode{Ternary: true, Cond: conds[i], Exp1: &ast.IntegerNode{Value: i}, Exp2: body}
	}
	for i := len(h.order) - 1; i >= 0; i-- {
		v := h.order[i]
		if h.uses[v.name] == 0 {
			continue // a map only read through hoisted keys
		}
		body = &ast.VariableDeclaratorNode{Name: v.name, Value: v.key.load(), Expr: body}
	}

	tree := &parser.Tree{Node: body, Source: file.NewSource("")}
	if _, err := new(checker.Checker).PatchAndCheck(tree, config); err != nil {
		return nil, err
	}
	if err := optimizer.Optimize(&tree.Node, config); err != nil {
		return nil, err
	}
	program, err := compiler.Compile(tree, config)
	if err != nil {
		return nil, err
	}
	return &fastProgram{program: program}, nil
}

// hoistKey is a value read from the environment: a field, or a map field at a literal key.
type hoistKey struct {
	field, key string
	keyed      bool
}

func (k hoistKey) load() ast.Node {
	field := &ast.IdentifierNode{Value: k.field}
	if !k.keyed {
		return field
	}
	return &ast.MemberNode{Node: field, Property: &ast.StringNode{Value: k.key}}
}

type hoisted struct {
	name string
	key  hoistKey
}

// hoister rewrites environment reads into variable reads and records the variables. Variable
// names contain a space, which no expression can spell, so they cannot collide with a rule's own
// let variables; expr forbids those to shadow environment names, so every identifier that names
// an Env field is a read of that field.
type hoister struct {
	vars  map[hoistKey]string
	byVar map[string]hoistKey
	order []hoisted
	uses  map[string]int
}

func (h *hoister) variable(k hoistKey) string {
	name, ok := h.vars[k]
	if !ok {
		name = "$hoisted " + strconv.Itoa(len(h.order))
		h.vars[k] = name
		if h.byVar == nil {
			h.byVar = map[string]hoistKey{}
		}
		h.byVar[name] = k
		h.order = append(h.order, hoisted{name, k})
	}
	h.uses[name]++
	return name
}

// Visit runs after a node's children (ast.Walk is post-order): in labels["x"] the identifier
// labels has already become a variable, which the member read then replaces.
func (h *hoister) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if _, ok := envFields[n.Value]; ok {
			ast.Patch(node, &ast.IdentifierNode{Value: h.variable(hoistKey{field: n.Value})})
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || n.Optional || n.Method {
			return
		}
		base, ok := h.byVar[id.Value]
		if !ok || base.keyed || !envFields[base.field] {
			return
		}
		key, ok := n.Property.(*ast.StringNode)
		if !ok {
			return
		}
		h.uses[id.Value]--
		ast.Patch(node, &ast.IdentifierNode{Value: h.variable(hoistKey{field: base.field, key: key.Value, keyed: true})})
	}
}
