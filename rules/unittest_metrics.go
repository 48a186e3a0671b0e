package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/triaged/triaged"
)

// metricHints explain a failing case whose facts give metrics, but not all those its rules read
// by name: a metric the facts do not give has no value, so a misspelt name in either place makes
// a rule silently not match. The hint names both sides.
func metricHints(rs *RuleSet, f triaged.Enrichment) []string {
	if len(f.Metrics) == 0 {
		return nil
	}
	var given []string
	for _, m := range f.Metrics {
		given = append(given, m.Name)
	}
	var hints []string
	for _, name := range rs.MetricNames() {
		if !slices.Contains(given, name) {
			hints = append(hints, fmt.Sprintf("metrics:     the rules read %q, which facts.metrics does not give (it gives %s): it has no value",
				name, strings.Trim(quoteList(given), "[]")))
		}
	}
	return hints
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
