package rules

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/srcpos"
)

// MetricValues are numbers Prometheus gave, by query name (the catalog's, or
// triaged.AlertExpressionMetric for the alert's own expression): only the queries that gave a
// value are in it. A rule that reads a name that is not in it (`metrics.error_ratio`) reads NaN,
// not 0: see metricsPatch.
type MetricValues map[string]float64

// MetricTexts are words about the queries, by query name: their trend, or why they gave nothing.
// A name that is not in it reads as "", as a missing label does.
type MetricTexts map[string]string

var (
	metricValuesType = reflect.TypeFor[MetricValues]()
	metricTextsType  = reflect.TypeFor[MetricTexts]()
)

// setMetrics fills the escalation environment's metrics vocabulary from what the enricher found.
// A query that gave no value (nil, or NaN, which Prometheus answers for 0/0) is left out of the
// value maps, so that it can never read as a number; when a name occurs twice the first wins, as
// the report lists the alert's own expression first.
func (e *EscalationEnv) setMetrics(f triaged.Enrichment) {
	e.FailingRatio, e.RequestRate, e.AffectedRPS = math.NaN(), math.NaN(), math.NaN()
	if mi := f.MeasuredImpact; mi != nil {
		e.FailingRatio = valueOrNaN(mi.FailingRatio)
		e.RequestRate = valueOrNaN(mi.RequestRate)
		e.AffectedRPS = valueOrNaN(mi.Affected)
		e.ImpactMeasured = !math.IsNaN(e.FailingRatio)
	}
	e.HasMetric = func(name string) bool { _, ok := e.Metrics[name]; return ok }
	if len(f.Metrics) == 0 {
		return
	}
	e.Metrics, e.MetricsBefore, e.MetricsChange = MetricValues{}, MetricValues{}, MetricValues{}
	e.MetricsTrend, e.MetricsError = MetricTexts{}, MetricTexts{}
	seen := make(map[string]bool, len(f.Metrics))
	for _, m := range f.Metrics {
		if m.Name == "" || seen[m.Name] {
			continue
		}
		seen[m.Name] = true
		putValue(e.Metrics, m.Name, m.Now)
		putValue(e.MetricsBefore, m.Name, m.Before)
		putValue(e.MetricsChange, m.Name, m.ChangePercent)
		if m.Trend != "" {
			e.MetricsTrend[m.Name] = m.Trend
		}
		if m.Error != "" {
			e.MetricsError[m.Name] = m.Error
		}
	}
}

func putValue(m MetricValues, name string, v *float64) {
	if v != nil && !math.IsNaN(*v) {
		m[name] = *v
	}
}

func valueOrNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// metricsPatch rewrites every lookup in a MetricValues, `metrics.NAME` or `metrics[expr]`, into
// `"NAME" in metrics ? metrics.NAME : NaN`. expr reads a missing key of a map as its element's
// zero value, so without it a query that gave nothing would read as 0 and make
// `metrics.error_ratio < 0.01` true exactly when Prometheus was down. NaN makes every comparison
// false instead (as a PromQL comparison drops a series that has no sample), and keeps the
// lookup's type float64, so a wrong use is still a load error.
//
// It also records the metric names an expression reads by a literal, for CheckMetricNames. A
// metricsPatch serves one compilation.
type metricsPatch struct {
	refs []metricRef
}

// metricRef is a metric name an expression reads: `metrics.error_ratio`, `has_metric("x")`.
type metricRef struct {
	name string
	text string // as written, for messages
	loc  file.Location
}

func isMetricMap(n ast.Node) bool {
	t := n.Type()
	return t == metricValuesType || t == metricTextsType
}

func (p *metricsPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if !isMetricMap(n.Node) {
			return
		}
		if name, ok := n.Property.(*ast.StringNode); ok {
			p.refs = append(p.refs, metricRef{name.Value, n.String(), n.Node.Location()})
		}
		if n.Node.Type() != metricValuesType {
			return
		}
		has := &ast.BinaryNode{Operator: "in", Left: n.Property, Right: n.Node}
		nan := &ast.FloatNode{Value: math.NaN()}
		has.SetLocation(n.Location())
		nan.SetLocation(n.Location())
		ast.Patch(node, &ast.ConditionalNode{Cond: has, Exp1: n, Exp2: nan})
	case *ast.BinaryNode:
		if name, ok := n.Left.(*ast.StringNode); ok && (n.Operator == "in" || n.Operator == "not in") && isMetricMap(n.Right) {
			p.refs = append(p.refs, metricRef{name.Value, n.String(), n.Left.Location()})
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "has_metric" || len(n.Arguments) != 1 {
			return
		}
		if name, ok := n.Arguments[0].(*ast.StringNode); ok {
			p.refs = append(p.refs, metricRef{name.Value, n.String(), n.Location()})
		}
	}
}

// exprMetricRef is a metricRef of one of a rule's expressions.
type exprMetricRef struct {
	metricRef
	src exprSource
	key string // "when" or "severity"
}

// MetricNames lists, sorted, the metric names the escalation rules read by a literal name
// (`metrics.error_ratio`, `metrics_change["latency_p99"]`, `has_metric("x")`), the alert's own
// expression (triaged.AlertExpressionMetric) included.
func (rs *RuleSet) MetricNames() []string {
	var names []string
	for _, r := range rs.escalations {
		for _, ref := range r.metricRefs {
			names = append(names, ref.name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// CheckMetricNames warns, at the rule's expression, about each metric name an escalation rule
// reads that is not among known (the names of the queries the service catalog defines) nor the
// alert's own expression: such a metric never has a value, so the comparisons with it are never
// true. `triagetool check config` runs it with the config's catalog.
func (rs *RuleSet) CheckMetricNames(known []string) []Warning {
	var ws []Warning
	for _, r := range rs.escalations {
		warned := map[string]bool{}
		for _, ref := range r.metricRefs {
			if ref.name == triaged.AlertExpressionMetric || slices.Contains(known, ref.name) || warned[ref.name] {
				continue
			}
			warned[ref.name] = true
			at := (&file.Error{Location: ref.loc}).Bind(file.NewSource(ref.src.text))
			ws = append(ws, Warning{Pos: ref.src.pos, Rule: r.ref(), Message: fmt.Sprintf(
				"%s: %s (%d:%d) reads the metric %q, which no service of the catalog defines as a query (%s): it never has a value, and comparisons with it are never true",
				ref.key, ref.text, at.Line, at.Column+1, ref.name, knownList(known))})
		}
	}
	srcpos.SortFunc(ws, rs.files, func(w Warning) (Position, bool) { return w.Pos, true })
	return ws
}

func knownList(known []string) string {
	if len(known) == 0 {
		return "the catalog defines none"
	}
	sorted := slices.Clone(known)
	sort.Strings(sorted)
	q := make([]string, len(sorted))
	for i, n := range sorted {
		q[i] = strconv.Quote(n)
	}
	return "it defines " + strings.Join(q, ", ")
}
