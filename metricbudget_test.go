package triaged_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
)

// metricsReport is a report whose Prometheus evidence alone is far over any budget: 500 queries,
// one in 25 of 100 KB with a long graph path, with long sparklines and many series labels.
func metricsReport() *triaged.Report {
	t0 := time.Date(2026, 11, 26, 15, 8, 31, 0, time.UTC)
	v := 0.5
	rep := &triaged.Report{
		SchemaVersion: triaged.ReportSchemaVersion, ID: "inc.1.opened", IncidentID: "inc", Event: triaged.EventOpened,
		Severity: triaged.P2, Status: triaged.ReportInvestigating, AlertName: "ErrorsHigh", Service: "checkout",
		StartedAt: t0, ReceivedAt: t0, TriagedAt: t0,
		MeasuredImpact: &triaged.MeasuredImpact{Text: "≈ 50 % of requests failing", Queries: []string{strings.Repeat("q", 100<<10), "rate"}},
	}
	labels := map[string]string{}
	for i := range 20 {
		labels[fmt.Sprintf("label_%03d", i)] = strings.Repeat("v", 100)
	}
	for i := range 500 {
		name, size, graph := fmt.Sprintf("query_%03d", i), 1<<10, "g"
		if i%25 == 0 {
			size, graph = 100<<10, strings.Repeat("g", 2<<10) // 2 MB of queries in all: encoded in a moment
		}
		if i == 0 {
			name = triaged.AlertExpressionMetric
		}
		rep.Metrics = append(rep.Metrics, triaged.MetricEvidence{
			Name: name, Query: fmt.Sprintf("sum(rate(x_%d[5m])) or ", i) + strings.Repeat("vector(1) or ", size/13),
			At: t0, Now: &v, Sparkline: strings.Repeat("▁▂▃▄▅▆▇█", 40), Series: 100, SeriesLabels: labels,
			HasGraph: true, Graph: "/api/v1/incidents/inc/graphs/" + graph + ".png",
		})
	}
	return rep
}

// A report with 500 metrics and queries of 100 KB stays within its budget, keeps the alert's own
// expression first, and says what it left out.
func TestEncodeReportWithinBoundsMetrics(t *testing.T) {
	rep := metricsReport() // EncodeReportWithin trims a copy
	for _, max := range []int{triaged.DefaultReportMaxBytes, triaged.MinReportMaxBytes} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			data, got, err := triaged.EncodeReportWithin(rep, max)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > max {
				t.Fatalf("encoded report is %d bytes, over the budget of %d", len(data), max)
			}
			if len(got.Metrics) == 0 || got.Metrics[0].Name != triaged.AlertExpressionMetric {
				t.Fatalf("kept %d metrics; want the alert's own expression first", len(got.Metrics))
			}
			notes := strings.Join(got.Trimmed, "\n")
			for _, want := range []string{
				fmt.Sprintf("metrics: the first %d listed (the alert's own expression first), %d more left out", len(got.Metrics), 500-len(got.Metrics)),
				"sparklines shortened to their last",
				"series labels left out",
				"bytes cut",
			} {
				if !strings.Contains(notes, want) {
					t.Errorf("trimmed notes %q do not say %q", got.Trimmed, want)
				}
			}
			for _, m := range got.Metrics {
				if m.Graph != "" && !strings.HasSuffix(m.Graph, ".png") {
					t.Errorf("graph path %q was cut: a cut link leads elsewhere; an overlong one is left out", m.Graph[len(m.Graph)-40:])
				}
				if len(m.Query) > 8<<10 && !strings.Contains(m.Query, "bytes cut]") {
					t.Errorf("query of %s is %d bytes, not cut", m.Name, len(m.Query))
				}
			}
		})
	}
	// The last resort says the metrics were left out.
	small := *rep
	small.Metrics = rep.Metrics[:30]
	_, got, err := triaged.EncodeReportWithin(&small, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Metrics) != 0 || got.PendingWhy[triaged.SectionMetrics] == "" {
		t.Errorf("minimal report keeps %d metrics, pending %v; want them left out and said so", len(got.Metrics), got.PendingWhy)
	}
}
