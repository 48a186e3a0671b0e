package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/config"
	"github.com/triaged/triaged/rules"
)

// catalogMetricNames returns the names of the metric queries the config's service catalog
// defines, and the alert's own expression, which every alert may have.
func catalogMetricNames(cfg *config.Config) []string {
	names := []string{triaged.AlertExpressionMetric}
	for _, s := range cfg.Services {
		for _, q := range s.Metrics {
			names = append(names, q.Name)
		}
	}
	return names
}

// checkMetricNames prints a warning for each metric an escalation rule reads that no service
// of the catalog defines, and says whether there was any.
func checkMetricNames(stderr io.Writer, rs *rules.RuleSet, cfg *config.Config) (linted bool) {
	for _, w := range rs.CheckMetricNames(catalogMetricNames(cfg)) {
		linted = true
		fmt.Fprintf(stderr, "  WARNING: %s\n", w)
	}
	return linted
}

// printMetricFacts prints the metrics of --facts as the escalation rules read them: a value by
// name, or why there is none (and so the metric reads NaN).
func printMetricFacts(w io.Writer, f triaged.Enrichment) {
	if len(f.Metrics) == 0 && f.MeasuredImpact == nil {
		return
	}
	var parts []string
	for _, m := range f.Metrics {
		switch {
		case m.Now != nil && !math.IsNaN(*m.Now):
			parts = append(parts, fmt.Sprintf("%s=%s", m.Name, formatNumber(*m.Now)))
		case m.Error != "":
			parts = append(parts, fmt.Sprintf("%s: no value (%s)", m.Name, m.Error))
		default:
			parts = append(parts, m.Name+": no value")
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "  metrics: %s\n", strings.Join(parts, ", "))
	}
	if mi := f.MeasuredImpact; mi != nil {
		fmt.Fprintf(w, "  impact:  failing_ratio=%s request_rate=%s affected_rps=%s\n",
			formatValue(mi.FailingRatio), formatValue(mi.RequestRate), formatValue(mi.Affected))
	}
}

func formatValue(v *float64) string {
	if v == nil {
		return "NaN"
	}
	return formatNumber(*v)
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
