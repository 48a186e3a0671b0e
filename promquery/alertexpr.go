package promquery

import (
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/triaged/triaged/graph"
)

// AlertExpr is an alerting rule's expression read for its value: the side of a top-level
// comparison with a number (`X > 0.05`), or the whole expression when it has none.
type AlertExpr struct {
	// Expr is the expression as the generator URL carries it.
	Expr string
	// Value is the PromQL to query: X of `X > 0.05`, else Expr.
	Value string
	// Threshold and Comparison are the comparison, written with the value on the left
	// (`0.05 < X` reads as "> 0.05"); Comparison is "" when there is none.
	Threshold  float64
	Comparison string
}

// GeneratorExpr is the expression of an alert's generator URL (its g0.expr), "" when it has none.
func GeneratorExpr(generatorURL string) string {
	u, err := url.Parse(generatorURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("g0.expr")
}

// ParseAlertExpr parses an alerting rule's expression and finds its value side.
func ParseAlertExpr(expr string) (AlertExpr, error) {
	ae := AlertExpr{Expr: expr, Value: expr}
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return ae, fmt.Errorf("the alert's expression does not parse: %v", err)
	}
	b, ok := unparen(e).(*parser.BinaryExpr)
	if !ok || !b.Op.IsComparisonOperator() || b.ReturnBool {
		return ae, nil
	}
	if n, ok := number(b.RHS); ok && b.LHS.Type() == parser.ValueTypeVector {
		ae.Value, ae.Threshold, ae.Comparison = unparen(b.LHS).String(), n, b.Op.String()
	} else if n, ok := number(b.LHS); ok && b.RHS.Type() == parser.ValueTypeVector {
		ae.Value, ae.Threshold, ae.Comparison = unparen(b.RHS).String(), n, flip(b.Op).String()
	}
	return ae, nil
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// number is the value of a number literal, signed or in parentheses.
func number(e parser.Expr) (float64, bool) {
	switch e := unparen(e).(type) {
	case *parser.NumberLiteral:
		return e.Val, true
	case *parser.UnaryExpr:
		n, ok := number(e.Expr)
		if ok && e.Op == parser.SUB {
			n = -n
		}
		return n, ok
	}
	return 0, false
}

func flip(op parser.ItemType) parser.ItemType {
	switch op {
	case parser.LSS:
		return parser.GTR
	case parser.GTR:
		return parser.LSS
	case parser.LTE:
		return parser.GTE
	case parser.GTE:
		return parser.LTE
	}
	return op // == and != read the same both ways
}

// holds says whether v satisfies the comparison.
func (ae AlertExpr) holds(v float64) bool {
	t := ae.Threshold
	switch ae.Comparison {
	case ">":
		return v > t
	case "<":
		return v < t
	case ">=":
		return v >= t
	case "<=":
		return v <= t
	case "==":
		return v == t
	case "!=":
		return v != t
	}
	return true
}

// crossedAt is when the alert's condition last began to hold at or before start (a step's
// leeway, as the points are a step apart): with a comparison, the first point of the last run
// of points that satisfy it; without, the first point of the run of points start falls in, a
// missing point ending a run. Nil when the run began before the window (at its first step) or
// no point at or before start holds.
func (ae AlertExpr) crossedAt(pts []graph.Point, from, start time.Time, step time.Duration) *time.Time {
	last := -1
	for i, p := range pts {
		if p.T.After(start.Add(step)) {
			break
		}
		last = i
	}
	if last < 0 || ae.Comparison == "" && start.Sub(pts[last].T) > step+step/2 {
		return nil
	}
	// The run that holds at the last point up to start, or the last one before it.
	i := last
	for i >= 0 && !ae.holds(pts[i].V) {
		i--
	}
	if i < 0 || ae.Comparison == "" && i != last {
		return nil
	}
	for i > 0 && ae.holds(pts[i-1].V) && pts[i].T.Sub(pts[i-1].T) <= step+step/2 {
		i--
	}
	if i == 0 && pts[0].T.Sub(from) < step {
		return nil
	}
	t := pts[i].T
	return &t
}
