package triage

import (
	"fmt"
	"strings"
	"testing"

	"github.com/triaged/triaged"
)

// An incident's record whose metrics evidence is 500 queries, one in 25 of 100 KB, with long
// sparklines and series labels, fits NATS' max payload, keeps the alert's own expression first,
// and says what it left out.
func TestRecordBoundsTheMetricsEvidence(t *testing.T) {
	const max = DefaultRecordMaxBytes
	labels := map[string]string{}
	for i := range 20 {
		labels[fmt.Sprintf("label_%03d", i)] = strings.Repeat("v", 100)
	}
	v := 0.5
	e := &triaged.Enrichment{MeasuredImpact: &triaged.MeasuredImpact{Text: "≈ 50 %", Queries: []string{strings.Repeat("q", 100<<10), "rate"}}}
	for i := range 500 {
		name, size := fmt.Sprintf("query_%03d", i), 1<<10
		if i == 0 {
			name = triaged.AlertExpressionMetric
		}
		if i%25 == 0 {
			size = 100 << 10
		}
		e.Metrics = append(e.Metrics, triaged.MetricEvidence{Name: name, Query: strings.Repeat("x", size), Now: &v,
			Sparkline: strings.Repeat("▁▂▃▄▅▆▇█", 40), Series: 100, SeriesLabels: labels, HasGraph: true})
	}
	r := &record{Incident: triaged.Incident{ID: "x", Severity: triaged.P3, Evidence: e}, Classification: triaged.Classification{Severity: triaged.P3}}
	data, notes, err := fitRecord(r, max)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > max {
		t.Fatalf("record of %d bytes, over %d", len(data), max)
	}
	got := r.Evidence
	if len(got.Metrics) == 0 || len(got.Metrics) >= 500 || got.Metrics[0].Name != triaged.AlertExpressionMetric {
		t.Fatalf("%d metrics kept; want fewer than 500, the alert's own expression first", len(got.Metrics))
	}
	if len(e.Metrics) != 500 || e.Metrics[0].Query != strings.Repeat("x", 100<<10) {
		t.Error("the incident's own evidence was changed: the record trims a copy")
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{"evidence: metrics: the first", "more left out", "sparklines shortened", "series labels left out", "values cut"} {
		if !strings.Contains(all, want) {
			t.Errorf("notes %q do not say %q", notes, want)
		}
	}
}
