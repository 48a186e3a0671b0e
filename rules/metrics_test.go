package rules

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/triaged/triaged"
)

func ptr(v float64) *float64 { return &v }

// The enrichments of the metrics tests: the queries gave values, gave nothing, or failed.
var (
	metricsPresent = triaged.Enrichment{
		Metrics: []triaged.MetricEvidence{
			{Name: triaged.AlertExpressionMetric, Now: ptr(0.07), Threshold: ptr(0.05), Comparison: ">"},
			{Name: "error_ratio", Now: ptr(0.12), Before: ptr(0.01), ChangePercent: ptr(1100), Trend: "rising"},
			{Name: "request_rate", Now: ptr(340), Before: ptr(350), ChangePercent: ptr(-2.86), Trend: "steady"},
			{Name: "error_ratio", Now: ptr(0.9)}, // a second of one name: the first wins
		},
		MeasuredImpact: &triaged.MeasuredImpact{FailingRatio: ptr(0.12), RequestRate: ptr(340), Affected: ptr(40.8)},
	}
	metricsMissing = triaged.Enrichment{}
	metricsFailing = triaged.Enrichment{
		Metrics: []triaged.MetricEvidence{
			{Name: "error_ratio", Error: "Prometheus answered 503: service unavailable"},
			{Name: "request_rate", Error: "no series: the query returned nothing"},
			{Name: "latency_p99", Now: ptr(math.NaN())}, // 0/0 without traffic: no value either
		},
		MeasuredImpact: &triaged.MeasuredImpact{Why: "error_ratio: Prometheus answered 503"},
	}
)

// TestEscalationMetricsVocabulary: what an escalation rule reads when the queries gave values,
// gave nothing, or failed. A query without a value must never read as 0: `< 0.01` would then
// be true exactly when Prometheus was down.
func TestEscalationMetricsVocabulary(t *testing.T) {
	for _, tc := range []struct {
		expr                     string
		present, missing, failed bool
	}{
		{`metrics.error_ratio > 0.1`, true, false, false},
		{`metrics.error_ratio < 0.01`, false, false, false},
		{`metrics.error_ratio == 0`, false, false, false},
		{`metrics.error_ratio >= 0 || metrics.error_ratio <= 0`, true, false, false},
		{`metrics["error_ratio"] < 0.2`, true, false, false},
		{`metrics?.error_ratio < 0.2`, true, false, false},
		{`let name = "error_ratio"; metrics[name] < 0.2`, true, false, false},
		{`let m = metrics; m.error_ratio < 0.2`, true, false, false},
		{`any(["error_ratio", "request_rate"], {metrics[#] < 0.2})`, true, false, false},
		{`metrics.error_ratio * metrics.request_rate > 40`, true, false, false},
		{`any(keys(metrics), {metrics[#] > 0.1})`, true, false, false},
		{`any(values(metrics_error), {# contains "503"})`, false, false, true},
		{`metrics.error_ratio * metrics.nonexistent < 1`, false, false, false},
		// NaN is unequal to everything: `!=` and a negation are true without a value.
		{`metrics.error_ratio != 0.12`, false, true, true},
		{`!(metrics.error_ratio > 0.1)`, false, true, true},
		{`has_metric("error_ratio") && has_metric("request_rate") && !has_metric("nonexistent")`, true, false, false},
		{`!has_metric("error_ratio") && !has_metric("latency_p99")`, false, true, true},
		{`"error_ratio" in metrics`, true, false, false},
		{`len(metrics) == 3 && len(metrics_before) == 2`, true, false, false},
		{`len(metrics) == 0`, false, true, true},
		{`metrics.alert > 0.05`, true, false, false},
		{`metrics_before.error_ratio == 0.01 && metrics_change.error_ratio == 1100 && metrics_change.request_rate < 0`, true, false, false},
		{`metrics_before.error_ratio < 1 || metrics_change.error_ratio < 1`, true, false, false},
		{`metrics_trend.error_ratio == "rising" && metrics_trend.request_rate == "steady"`, true, false, false},
		{`metrics_trend.error_ratio == ""`, false, true, true},
		{`metrics_error.error_ratio contains "503" && metrics_error.request_rate startsWith "no series"`, false, false, true},
		{`metrics_error.error_ratio == ""`, true, true, false},
		{`impact_measured && failing_ratio == 0.12 && request_rate == 340 && affected_rps > 40`, true, false, false},
		{`failing_ratio < 1 || request_rate < 1e9 || affected_rps < 1e9`, true, false, false},
		{`!impact_measured`, false, true, true},
	} {
		for _, run := range []struct {
			name string
			f    triaged.Enrichment
			want bool
		}{{"present", metricsPresent, tc.present}, {"missing", metricsMissing, tc.missing}, {"failed", metricsFailing, tc.failed}} {
			env := newEscalationEnv(triaged.Classification{Severity: triaged.P3}, alert("X"), triaged.Service{}, run.f, evalTime)
			if got := evalBool(t, tc.expr, env); got != run.want {
				t.Errorf("%s, metrics %s: %t, want %t", tc.expr, run.name, got, run.want)
			}
		}
	}
}

// TestEscalateOnMetrics runs the escalation stage, as the daemon does, over metrics present,
// missing and failing.
func TestEscalateOnMetrics(t *testing.T) {
	rs := mustParse(t, `
default: P3
rules: [{name: any, when: 'true', severity: P3}]
escalations:
  - {name: errors-p1, when: 'environment == "prod" && metrics.error_ratio > 0.1', severity: P1, impact: [feature_degraded]}
  - {name: too-quiet, when: 'metrics.request_rate < 1', severity: P2}
  - {name: errors-rising, when: 'metrics_change.error_ratio > 100', severity: raise(1)}
  - {name: unmeasured, when: '!impact_measured && len(metrics_error) > 0', severity: raise(1)}
`)
	for _, tc := range []struct {
		name        string
		env         string
		f           triaged.Enrichment
		severity    triaged.Severity
		escalations []string
	}{
		{"present, production", "prod", metricsPresent, triaged.P1, []string{"errors-p1", "errors-rising"}},
		{"present, staging", "staging", metricsPresent, triaged.P2, []string{"errors-rising"}},
		{"missing", "prod", metricsMissing, triaged.P3, nil},
		{"failing", "prod", metricsFailing, triaged.P2, []string{"unmeasured"}},
		{"a request rate of 0 is a value", "prod", triaged.Enrichment{Metrics: []triaged.MetricEvidence{{Name: "request_rate", Now: ptr(0)}}}, triaged.P2, []string{"too-quiet"}},
	} {
		a := alert("HighErrorRate", "env", tc.env)
		svc := triaged.LabelledService(a)
		c, errs := rs.EscalateWithErrors(rs.Classify(a, svc, evalTime), a, svc, tc.f, evalTime)
		var got []string
		for _, d := range c.Decisions[1:] {
			got = append(got, d.Rule)
		}
		if c.Severity != tc.severity || !slices.Equal(got, tc.escalations) || len(errs) > 0 {
			t.Errorf("%s: %s %q (errors %v), want %s %q", tc.name, c.Severity, got, errs, tc.severity, tc.escalations)
		}
		// explain decides the same.
		x := rs.Explain(a, svc, evalTime, ExplainOptions{Enrichment: tc.f})
		if !reflect.DeepEqual(x.Final, c) {
			t.Errorf("%s: explain decided %+v, escalate %+v", tc.name, x.Final, c)
		}
	}
}

// TestMetricsUnitTestFiles: a rule author tests escalations on metrics without Prometheus. The
// README's example passes; a misspelt metric fails with a message that names both spellings.
func TestMetricsUnitTestFiles(t *testing.T) {
	res, err := RunTests("testdata/unittest/metrics-escalation.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if res.Cases != 4 || len(res.Failures) > 0 {
		t.Errorf("the README's example: %d cases, failures %v", res.Cases, res.Failures)
	}

	res, err = RunTests("testdata/unittest/metrics.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if res.Cases != 7 || len(res.Failures) != 1 {
		t.Fatalf("%d cases, failures %v; want 7 cases, the last failing", res.Cases, res.Failures)
	}
	f := res.Failures[0]
	want := []string{
		`severity:    got P3, want P2`,
		`escalations: got [], want ["quiet-is-suspicious"]`,
		`metrics:     the rules read "error_ratio", which facts.metrics does not give (it gives "request_rte"): it has no value`,
		`metrics:     the rules read "request_rate", which facts.metrics does not give (it gives "request_rte"): it has no value`,
	}
	if f.Pos.String() != "testdata/unittest/metrics.test.yml:42:5" || f.Name != "a misspelt metric fails on purpose" || !slices.Equal(f.Diffs, want) {
		t.Errorf("failure %s %q\n%s\nwant\n%s", f.Pos, f.Name, strings.Join(f.Diffs, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeFactsMetrics(t *testing.T) {
	f, err := DecodeFacts([]byte(`{"metrics": [{"name": "error_ratio", "now": 0.3, "before": 0.1}, {"name": "x", "now": 1, "before": 0}, {"name": "y", "now": 2, "before": 1, "change_percent": 7}], "measured_impact": {"failing_ratio": 0.3, "affected": 12}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Metrics) != 3 || f.Metrics[0].ChangePercent == nil || math.Abs(*f.Metrics[0].ChangePercent-200) > 1e-9 {
		t.Errorf("change_percent not computed from now and before: %+v", f.Metrics)
	}
	if f.Metrics[1].ChangePercent != nil || *f.Metrics[2].ChangePercent != 7 {
		t.Errorf("change_percent of a 0 before, or given: %+v %+v", f.Metrics[1], f.Metrics[2])
	}
	if f.MeasuredImpact == nil || *f.MeasuredImpact.FailingRatio != 0.3 || f.MeasuredImpact.RequestRate != nil {
		t.Errorf("measured impact %+v", f.MeasuredImpact)
	}
	for _, bad := range []string{
		`{"metrics": [{"name": "x", "value": 1}]}`,
		`{"measured_impact": {"failing": 0.1}}`,
		`{"metrics": [{"name": "x", "now": "high"}]}`,
	} {
		if _, err := DecodeFacts([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

// TestCheckMetricNames: a config's check warns at the rule about metric names no catalog service
// defines, so a misspelt name is not a rule that silently never matches.
func TestCheckMetricNames(t *testing.T) {
	rs := mustParse(t, `
default: P3
escalations:
  - name: ratio
    when: metrics.error_ratio > 0.1 && metrics.eror_ratio > 0.1 && metrics.alert > 1
    severity: P1
  - name: dynamic
    when: |
      has_metric("latency_p99")
        && metrics_change["latency_p99"] > 50 && "saturation" in metrics_trend
    severity: 'metrics.eror_ratio > 0.5 ? "P1" : "P2"'
  - name: computed
    when: 'let n = "computed"; metrics[n] > 1'
    severity: P2
`)
	if got, want := rs.MetricNames(), []string{"alert", "eror_ratio", "error_ratio", "latency_p99", "saturation"}; !slices.Equal(got, want) {
		t.Errorf("metric names %q, want %q", got, want)
	}
	var got []string
	for _, w := range rs.CheckMetricNames([]string{"request_rate", "error_ratio"}) {
		got = append(got, w.String())
	}
	want := []string{
		`test.yml:5:11: rule "ratio": when: metrics.eror_ratio (1:30) reads the metric "eror_ratio", which no service of the catalog defines as a query (it defines "error_ratio", "request_rate"): it never has a value, and comparisons with it are never true`,
		`test.yml:9:7: rule "dynamic": when: has_metric("latency_p99") (1:1) reads the metric "latency_p99", which no service of the catalog defines as a query (it defines "error_ratio", "request_rate"): it never has a value, and comparisons with it are never true`,
		`test.yml:9:7: rule "dynamic": when: "saturation" in metrics_trend (2:44) reads the metric "saturation", which no service of the catalog defines as a query (it defines "error_ratio", "request_rate"): it never has a value, and comparisons with it are never true`,
		`test.yml:11:15: rule "dynamic": severity: metrics.eror_ratio (1:1) reads the metric "eror_ratio", which no service of the catalog defines as a query (it defines "error_ratio", "request_rate"): it never has a value, and comparisons with it are never true`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ws := rs.CheckMetricNames([]string{"error_ratio", "eror_ratio", "latency_p99", "saturation"}); len(ws) > 0 {
		t.Errorf("warnings with every name known: %v", ws)
	}
	if ws := rs.CheckMetricNames(nil); len(ws) != 5 || !strings.Contains(ws[0].Message, "(the catalog defines none)") {
		t.Errorf("warnings with no name known: %v", ws)
	}
	// Lint of the file itself knows no catalog: it does not warn about names.
	if ws := rs.Warnings(); len(ws) > 0 {
		t.Errorf("lint: %v", ws)
	}
}
