package promquery_test

import (
	"testing"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/promquery"
)

func TestImpact(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	ratio := func(v *float64, unit, err string) triaged.MetricEvidence {
		return triaged.MetricEvidence{Name: "error_ratio", Query: "errors / requests", Unit: unit, Now: v, Error: err}
	}
	rate := triaged.MetricEvidence{Name: "request_rate", Query: "sum(rate(requests[5m]))", Unit: "req/s", Now: f(2833)}
	both := promquery.UserImpactSpec{FailingRatio: "error_ratio", RequestRate: "request_rate"}
	for _, tt := range []struct {
		name      string
		spec      promquery.UserImpactSpec
		metrics   []triaged.MetricEvidence
		text, why string
	}{
		{"ratio and rate", both, []triaged.MetricEvidence{ratio(f(0.12), "ratio", ""), rate}, "≈ 12 % of requests failing, about 340 req/s affected", ""},
		{"percent", both, []triaged.MetricEvidence{ratio(f(12), "percent", ""), rate}, "≈ 12 % of requests failing, about 340 req/s affected", ""},
		{"a small ratio", both, []triaged.MetricEvidence{ratio(f(0.0042), "ratio", ""), rate}, "≈ 0.42 % of requests failing, about 12 req/s affected", ""},
		{"a few percent", both, []triaged.MetricEvidence{ratio(f(0.034), "ratio", ""), rate}, "≈ 3.4 % of requests failing, about 96 req/s affected", ""},
		{"nothing failing", both, []triaged.MetricEvidence{ratio(f(0), "ratio", ""), rate}, "≈ 0 % of requests failing, about 0 req/s affected", ""},
		{"without a rate", promquery.UserImpactSpec{FailingRatio: "error_ratio"}, []triaged.MetricEvidence{ratio(f(0.5), "ratio", "")}, "≈ 50 % of requests failing", ""},
		{"the rate failed", both, []triaged.MetricEvidence{ratio(f(0.5), "ratio", ""), {Name: "request_rate", Error: "no answer within 5s"}}, "≈ 50 % of requests failing", ""},
		{"the ratio failed", both, []triaged.MetricEvidence{ratio(nil, "ratio", "Prometheus answered 500: boom"), rate}, "", "the failing ratio (query error_ratio) could not be read: Prometheus answered 500: boom"},
		{"no data", both, []triaged.MetricEvidence{ratio(nil, "ratio", "no series: the query matched nothing at 2026-03-01T12:00:00Z"), rate}, "", "the failing ratio (query error_ratio) could not be read: no series: the query matched nothing at 2026-03-01T12:00:00Z"},
		{"not a ratio", both, []triaged.MetricEvidence{ratio(f(3), "ratio", ""), rate}, "", `the failing ratio (query error_ratio) is 3, not a share between 0 and 1 (unit "ratio")`},
		{"not run", both, nil, "", `the failing ratio's query "error_ratio" was not run`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mi := promquery.Impact(tt.spec, tt.metrics)
			if mi.Text != tt.text || mi.Why != tt.why {
				t.Errorf("impact %q (why %q), want %q (why %q)", mi.Text, mi.Why, tt.text, tt.why)
			}
			if tt.text != "" && (mi.FailingRatio == nil || len(mi.Queries) == 0 || mi.Queries[0] != "errors / requests") {
				t.Errorf("impact %+v: want the ratio and its query", mi)
			}
		})
	}
}
