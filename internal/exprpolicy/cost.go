package exprpolicy

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// The cost bounds of an expression. An alert is data from outside (a label can hold up to the
// webhook's per-value limit), and expr's memory budget counts list and map elements, not the
// bytes of the strings an expression builds: `repeat(labels.x, 1000000)` allocated a million
// copies of a label before the budget could see them and ran the daemon out of memory. So what
// an expression may build is bounded when it is compiled: whatever it builds is at most a small
// multiple of what it reads, never a product of two things the alert controls.
const (
	// MaxRange is the most elements a range (`1..10`) may have. Its bounds must be integer
	// literals: a range is the one way to loop over something the alert did not supply.
	MaxRange = 1000
	// MaxGrowth is how many times the size of the values it reads a string an expression builds
	// may be: `labels.a + "/" + labels.b` is 2, each `let` doubling it counts.
	MaxGrowth = 8
	// MemoryBudget is expr's run-time budget of one evaluation, counted in elements of the lists
	// and maps it builds (a range, map(), filter(), sort(), an array literal): exceeding it fails
	// the evaluation, which is then handled as any failed one.
	MemoryBudget = 1_000_000
)

// unbounded is the growth of a value that repeats something the alert controls once for every
// element of a list, e.g. map(split(labels.a, ""), {labels.b}): its size is a product.
const unbounded = 1 << 40

// refused are the builtins no expression may call, and why: their cost is not bounded by a
// multiple of their input.
var refused = map[string]string{
	"repeat":   "its cost grows with its input",
	"toJSON":   "its cost grows with its input",
	"fromJSON": "its cost grows with its input",
	"reduce":   "its cost grows with the square of its input (the accumulator is rebuilt for every element)",
}

// predicates are the builtins that evaluate their second argument, a predicate, once for every
// element of their first.
var predicates = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "count": true,
	"sum": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// builders are the builtins that build a new string (or a list of strings) from their arguments.
var builders = map[string]bool{
	"upper": true, "lower": true, "trim": true, "trimPrefix": true, "trimSuffix": true,
	"replace": true, "join": true, "split": true, "splitAfter": true, "string": true,
	"toBase64": true, "fromBase64": true,
}

// constantCost are the builtins whose cost does not grow with their arguments (len of a list
// or a map is one too).
var constantCost = map[string]bool{
	"get": true, "first": true, "last": true, "abs": true, "ceil": true, "floor": true,
	"round": true, "type": true,
}

// coster finds, in a checked expression, what could cost more than its input: a refused builtin,
// a range that is not a small literal one, a string built beyond MaxGrowth or once per element
// from something other than the element. It records the first problem.
type coster struct {
	in   string // " in rules": where the expression is, for the message
	err  *file.Error
	vars []letVar
	// elems are the growth of the element (#) of each enclosing predicate, innermost last.
	elems []int
}

type letVar struct {
	name   string
	growth int
	depth  int // len(elems) where it was declared
}

// costCheck returns the first cost problem of a checked tree, nil when there is none.
func costCheck(root ast.Node, in string) *file.Error {
	c := &coster{in: in}
	c.growth(root)
	return c.err
}

func (c *coster) fail(n ast.Node, format string, args ...any) {
	if c.err == nil {
		c.err = &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	}
}

// growth returns how many times the size of the values it reads a value n yields can be (0 for
// one of a constant size, such as a number or a literal), and checks n and its children.
func (c *coster) growth(n ast.Node) int {
	switch n := n.(type) {
	case nil, *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode,
		*ast.BytesNode, *ast.ConstantNode:
		return 0
	case *ast.IdentifierNode:
		if v, ok := c.lookup(n.Value); ok {
			return v.growth
		}
		return 1
	case *ast.PointerNode:
		if n.Name != "" || len(c.elems) == 0 { // #index, #acc
			return 0
		}
		return c.elems[len(c.elems)-1]
	case *ast.MemberNode:
		if _, literal := n.Property.(*ast.StringNode); !literal {
			c.throughOutside(n, "a lookup by a computed key", n.Property)
		}
		c.growth(n.Property)
		return c.growth(n.Node)
	case *ast.ChainNode:
		return c.growth(n.Node)
	case *ast.SliceNode:
		c.growth(n.From)
		c.growth(n.To)
		return c.growth(n.Node)
	case *ast.UnaryNode:
		c.growth(n.Node)
		return 0
	case *ast.BinaryNode:
		return c.binary(n)
	case *ast.ConditionalNode:
		c.growth(n.Cond)
		return max(c.growth(n.Exp1), c.growth(n.Exp2))
	case *ast.VariableDeclaratorNode:
		c.vars = append(c.vars, letVar{name: n.Name, growth: c.growth(n.Value), depth: len(c.elems)})
		g := c.growth(n.Expr)
		c.vars = c.vars[:len(c.vars)-1]
		return g
	case *ast.SequenceNode:
		g := 0
		for _, m := range n.Nodes {
			g = c.growth(m)
		}
		return g
	case *ast.ArrayNode:
		g := 0
		for _, m := range n.Nodes {
			g = add(g, c.growth(m))
		}
		return g
	case *ast.MapNode:
		g := 0
		for _, m := range n.Pairs {
			g = add(g, c.growth(m))
		}
		return g
	case *ast.PairNode:
		return add(c.growth(n.Key), c.growth(n.Value))
	case *ast.PredicateNode:
		return c.growth(n.Node)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && builders[id.Value] {
			return c.builder(n, id.Value, n.Arguments) // split and splitAfter, see boundedSplit
		}
		// The environment's own functions (has, raise, ...) read the environment: a value of
		// the environment's size at most.
		c.growth(n.Callee)
		for _, a := range n.Arguments {
			c.throughOutside(n, "a function call", a)
			c.growth(a)
		}
		return sized(n, 1)
	case *ast.BuiltinNode:
		return c.builtin(n)
	default:
		c.fail(n, "unexpected expression %T", n)
		return unbounded
	}
}

func (c *coster) binary(n *ast.BinaryNode) int {
	l, r := c.growth(n.Left), c.growth(n.Right)
	switch n.Operator {
	case "..":
		lo, okLo := intLiteral(n.Left)
		hi, okHi := intLiteral(n.Right)
		switch {
		case !okLo || !okHi:
			c.fail(n, "the bounds of a range must be integer literals: otherwise its length grows with its input")
		case hi-lo+1 > MaxRange:
			c.fail(n, "the range %d..%d has %d elements, more than %d: its cost grows with its length", lo, hi, hi-lo+1, MaxRange)
		}
		return 0
	case "+":
		if !stringy(n) {
			return 0
		}
		return c.built(n, add(l, r), n.Left, n.Right)
	case "??":
		return max(l, r)
	case "contains", "matches":
		c.throughOutside(n, n.Operator, n.Left)
	case "in":
		if k := n.Right.Type().Kind(); k != reflect.Map && k != reflect.Struct {
			c.throughOutside(n, n.Operator, n.Right)
		}
	}
	return 0
}

// throughOutside checks, inside a predicate, an operation whose cost grows with the size of
// operand: from outside the element, it would be paid again for every element.
func (c *coster) throughOutside(n ast.Node, what string, operand ast.Node) {
	// A value of constant size (a literal, a variable holding one) costs the same every time.
	if len(c.elems) > 0 && readsOutside(operand, c.vars, len(c.elems)) && c.growth(operand) > 0 {
		c.fail(n, "inside a predicate ({...}), %s reads through a value from outside the element once for every element: its cost grows with the product of the list's length and that value's size; compute it before the predicate with let", what)
	}
}

func (c *coster) builtin(n *ast.BuiltinNode) int {
	if why, ok := refused[n.Name]; ok {
		c.fail(n, "%s() is not allowed%s: %s", n.Name, c.in, why)
		return unbounded
	}
	if predicates[n.Name] && len(n.Arguments) >= 2 {
		return c.predicate(n)
	}
	return c.builder(n, n.Name, n.Arguments)
}

// builder checks a call of a builtin other than a predicate; those in builders build a string.
func (c *coster) builder(n ast.Node, name string, arguments []ast.Node) int {
	args := make([]int, len(arguments))
	g := 0
	for i, a := range arguments {
		args[i] = c.growth(a)
		g = add(g, args[i])
	}
	if !builders[name] {
		if !constantCost[name] && !(name == "len" && len(arguments) == 1 && !stringy(arguments[0])) {
			for _, a := range arguments {
				c.throughOutside(n, name+"()", a)
			}
		}
		return sized(n, g)
	}
	switch name {
	case "replace":
		old, okOld := stringLiteral(arguments, 1)
		repl, okNew := stringLiteral(arguments, 2)
		if !okOld || !okNew || old == "" {
			c.fail(n, "replace()%s needs string literals for what to replace (not empty) and what to put instead: otherwise its result grows with the square of its input", c.in)
			return unbounded
		}
		g = mul(args[0], max(1, (len(repl)+len(old)-1)/len(old)))
	case "join":
		sep, ok := " ", true
		if len(arguments) > 1 {
			sep, ok = stringLiteral(arguments, 1)
		}
		if !ok {
			c.fail(n, "the separator of join() must be a string literal: otherwise its result grows with the square of its input")
			return unbounded
		}
		// Each element, perhaps an empty one, is followed by a separator.
		g = mul(args[0], 1+len(sep))
	case "toBase64":
		g = mul(g, 2)
	}
	return c.built(n, g, arguments...)
}

// predicate checks a builtin that runs its predicate for every element of its first argument.
func (c *coster) predicate(n *ast.BuiltinNode) int {
	if len(c.elems) > 0 && (!readsElement(n.Arguments[0]) || readsOutside(n.Arguments[0], c.vars, len(c.elems))) {
		c.fail(n, "inside a predicate ({...}), %s() may only go over a part of the element, as in any(logs, {any(.lines, ...)}): over another list it runs once for every element and its cost grows with the product of the two lists' lengths", n.Name)
	}
	coll := c.growth(n.Arguments[0])
	c.elems = append(c.elems, coll)
	body := c.growth(n.Arguments[1])
	c.elems = c.elems[:len(c.elems)-1]
	for _, a := range n.Arguments[2:] {
		c.growth(a)
	}
	switch n.Name {
	case "map":
		// One result for every element: a value from outside the element, repeated for every
		// element, is a product.
		if body > 0 && readsOutside(n.Arguments[1], c.vars, len(c.elems)+1) {
			return sized(n, unbounded)
		}
		return sized(n, body)
	case "filter", "find", "findLast", "sortBy", "groupBy":
		return sized(n, coll)
	}
	return 0
}

// built checks a node that builds a string of growth g from operands: not beyond MaxGrowth, and
// inside a predicate, from the element and literals only, since it is built once per element.
func (c *coster) built(n ast.Node, g int, operands ...ast.Node) int {
	switch {
	case len(c.elems) > 0 && readsOutside(nodeList(operands), c.vars, len(c.elems)):
		c.fail(n, "inside a predicate ({...}) a string may only be built from the element (#) and literals: built from another value, it is built again for every element and its cost grows with the square of its input")
	case g >= unbounded:
		c.fail(n, "this string repeats a value once for every element of a list: its cost grows with the square of its input")
	case g > MaxGrowth:
		c.fail(n, "this string can be %d times the size of the values it reads, more than %d: its cost grows with its input", g, MaxGrowth)
	}
	return g
}

func (c *coster) lookup(name string) (letVar, bool) {
	for i := len(c.vars) - 1; i >= 0; i-- {
		if c.vars[i].name == name {
			return c.vars[i], true
		}
	}
	return letVar{}, false
}

// readsOutside reports whether n reads anything but the element of the innermost predicate at
// depth, its own let variables and literals: a name from the environment, a function of it, or
// a variable declared outside the predicate.
func readsOutside(n ast.Node, outer []letVar, depth int) bool {
	found := false
	local := map[string]bool{}
	functions := map[*ast.IdentifierNode]bool{} // split and splitAfter: builtins, not values
	ast.Walk(&n, visitor(func(node *ast.Node) {
		switch m := (*node).(type) {
		case *ast.CallNode:
			if id, ok := m.Callee.(*ast.IdentifierNode); ok && builders[id.Value] {
				functions[id] = true
			}
		case *ast.VariableDeclaratorNode:
			local[m.Name] = true
		}
	}))
	ast.Walk(&n, visitor(func(node *ast.Node) {
		switch m := (*node).(type) {
		case *ast.IdentifierNode:
			if local[m.Value] || functions[m] {
				return
			}
			for _, v := range outer {
				if v.name == m.Value && v.depth >= depth {
					return
				}
			}
			found = true
		}
	}))
	return found
}

// readsElement reports whether n reads the element (#) of the predicate it is in.
func readsElement(n ast.Node) bool {
	found := false
	ast.Walk(&n, visitor(func(node *ast.Node) {
		if p, ok := (*node).(*ast.PointerNode); ok && p.Name == "" {
			found = true
		}
	}))
	return found
}

// nodeList wraps operands in one node to walk them together.
func nodeList(operands []ast.Node) ast.Node {
	return &ast.ArrayNode{Nodes: operands}
}

type visitor func(*ast.Node)

func (f visitor) Visit(n *ast.Node) { f(n) }

// sized is g for a node that yields something with a size (a string, a list, a map), 0 for a
// number, a boolean, a time or a duration.
func sized(n ast.Node, g int) int {
	switch n.Type().Kind() {
	case reflect.String, reflect.Interface, reflect.Slice, reflect.Array, reflect.Map:
		return g
	}
	return 0
}

// stringy reports whether n may yield a string.
func stringy(n ast.Node) bool {
	k := n.Type().Kind()
	return k == reflect.String || k == reflect.Interface
}

func add(a, b int) int { return min(a+b, unbounded) }

func intLiteral(n ast.Node) (int, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return n.Value, true
	case *ast.UnaryNode:
		if v, ok := intLiteral(n.Node); ok && n.Operator == "-" {
			return -v, true
		}
	case *ast.ConstantNode:
		v, ok := n.Value.(int)
		return v, ok
	}
	return 0, false
}

func stringLiteral(args []ast.Node, i int) (string, bool) {
	if i >= len(args) {
		return "", false
	}
	if s, ok := args[i].(*ast.StringNode); ok {
		return s.Value, true
	}
	return "", false
}

// mul is a * b, saturating at unbounded.
func mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a >= unbounded/b {
		return unbounded
	}
	return a * b
}
