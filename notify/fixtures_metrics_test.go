package notify

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/golden"
)

// The reports of an incident whose service's Prometheus was queried at the opening.

const graphBase = "/api/v1/incidents/3f9a1c2b7d4e5f60-20260314T092653Z/graphs/"

// checkoutMetrics are what Prometheus said when openedP1's incident opened: the alert's own
// expression and the catalog's request rate, error ratio and latency of checkout.
func checkoutMetrics() []triaged.MetricEvidence {
	crossed := t0.Add(-2*time.Minute - 15*time.Second)
	win := func(m triaged.MetricEvidence) triaged.MetricEvidence {
		m.At, m.WindowStart, m.WindowEnd = t0.Add(30*time.Second), t0.Add(-time.Hour), t0.Add(30*time.Second)
		return m
	}
	return []triaged.MetricEvidence{
		win(triaged.MetricEvidence{
			Name:  triaged.AlertExpressionMetric,
			Expr:  `sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="checkout"}[5m])) > 0.05`,
			Query: `sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="checkout"}[5m]))`,
			Unit:  "ratio", Now: ptr(0.1234), Before: ptr(0.004), BeforeOffsetMinutes: 60, ChangePercent: ptr(2985.0),
			Trend: "rising", Sparkline: "▁▁▁▁▁▂▃▅▇██", Series: 1, SeriesLabels: map[string]string{},
			Threshold: ptr(0.05), Comparison: ">", CrossedAt: &crossed,
			HasGraph: true, Graph: graphBase + "alert.png",
		}),
		win(triaged.MetricEvidence{
			Name: "request_rate", Query: `sum(rate(http_requests_total{job="checkout",env="production"}[5m]))`,
			Unit: "req/s", Now: ptr(341.7), Before: ptr(352.0), BeforeOffsetMinutes: 30, ChangePercent: ptr(-2.93),
			Trend: "steady", Sparkline: "▅▅▆▅▅▅▅▅▅▅▅", Series: 1, HasGraph: true, Graph: graphBase + "request_rate.png",
		}),
		win(triaged.MetricEvidence{
			Name: "error_ratio", Query: `sum(rate(http_requests_total{job="checkout",env="production",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="checkout",env="production"}[5m]))`,
			Unit: "ratio", Now: ptr(0.1234), Before: ptr(0.0041), BeforeOffsetMinutes: 30, ChangePercent: ptr(2909.76),
			Trend: "rising", Sparkline: "▁▁▁▁▁▂▃▅▇██", Series: 1, HasGraph: true, Graph: graphBase + "error_ratio.png",
		}),
		win(triaged.MetricEvidence{
			Name: "latency_p99", Query: `histogram_quantile(0.99, sum by (le, instance) (rate(http_request_duration_seconds_bucket{job="checkout",env="production"}[5m])))`,
			Unit: "seconds", Now: ptr(1.4172), Before: ptr(0.23), BeforeOffsetMinutes: 30, ChangePercent: ptr(516.17),
			Trend: "rising", Sparkline: "▁▁▁▂▂▃▄▅▆▇█", Series: 3, SeriesLabels: map[string]string{"instance": "10.0.4.17:8080"},
		}),
	}
}

// measuredP1 is openedP1 with the metrics of its opening and the user impact they measured.
func measuredP1() *triaged.Report {
	rep := openedP1()
	rep.Metrics = checkoutMetrics()
	rep.MeasuredImpact = &triaged.MeasuredImpact{
		Text:         "≈ 12.3 % of requests failing, about 42 req/s affected",
		FailingRatio: ptr(0.1234), RequestRate: ptr(341.7), Affected: ptr(42.17),
		Queries: []string{rep.Metrics[2].Query, rep.Metrics[1].Query},
	}
	rep.UserImpact = rep.MeasuredImpact.Text
	return rep
}

// prometheusDownP1 is openedP1 when Prometheus answered 500 to every query: each says why, and
// the user impact keeps the rule's words and says why it was not measured.
func prometheusDownP1() *triaged.Report {
	rep := openedP1()
	const why = "Prometheus answered 500 Internal Server Error: query processing would load too many samples into memory"
	for _, m := range checkoutMetrics() {
		rep.Metrics = append(rep.Metrics, triaged.MetricEvidence{Name: m.Name, Query: m.Query, Expr: m.Expr, Unit: m.Unit, At: m.At, Error: why})
	}
	rep.MeasuredImpact = &triaged.MeasuredImpact{Why: "the query error_ratio gave no value: " + why}
	rep.UserImpact = "all users: nobody can pay (not measured: " + rep.MeasuredImpact.Why + ")"
	return rep
}

// metricsPendingP1 is openedP1 when no Prometheus is configured.
func metricsPendingP1() *triaged.Report {
	rep := openedP1()
	rep.Pend(triaged.SectionMetrics, "no Prometheus is configured (prometheus.url)")
	return rep
}

// measuredUpdateP1 is the status update after measuredP1: the metrics are the opening's.
func measuredUpdateP1() *triaged.Report {
	rep := updatedP1()
	m := measuredP1()
	rep.Metrics, rep.MeasuredImpact = m.Metrics, m.MeasuredImpact
	rep.UserImpact = m.UserImpact + " (measured at the opening)"
	return rep
}

// The postmortem of an incident whose opening queried Prometheus names, in its timeline, when
// the alert's expression crossed its threshold, and shows the metrics with their graphs.
func TestPostmortemWithMetricsGolden(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	inc, reports := checkoutIncident()
	m := measuredP1()
	inc.Evidence.Metrics, inc.Evidence.MeasuredImpact = m.Metrics, m.MeasuredImpact
	for i := range inc.Evidence.Metrics {
		inc.Evidence.Metrics[i].Graph = "" // the incident keeps none: the postmortem sets them
	}
	got, err := r.Postmortem(inc, reports)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "postmortem_metrics_p1.md"), got)
	if !strings.Contains(string(got), "| 09:24:38 | The alert's expression crossed its threshold (> 5 %); 12.3 % when the incident opened |") {
		t.Error("the timeline does not name when the alert's expression crossed its threshold")
	}
}
