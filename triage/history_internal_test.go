package triage

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/triaged/triaged"
)

// An opening's evidence is kept within its bound: the oldest error lines go first, then the
// metrics' queries, and evidence that still does not fit is left out; each time saying what went.
func TestHistoryEvidenceIsBounded(t *testing.T) {
	lines := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("level=error n=%04d %s", i, strings.Repeat("x", 80)))
		}
		return out
	}
	now := 1.0
	metric := triaged.MetricEvidence{Name: "error_ratio", Query: strings.Repeat("q", 3000), Now: &now}
	for _, tc := range []struct {
		name                   string
		enr                    triaged.Enrichment
		max                    int
		wantLines, wantMetrics int // -1: no evidence at all
		wantOmitted            string
	}{
		{"within", triaged.Enrichment{Logs: []triaged.LogTail{{Source: "a", Lines: lines(3)}}}, 4096, 3, 0, ""},
		{"the oldest lines go", triaged.Enrichment{Logs: []triaged.LogTail{{Source: "a", Lines: lines(100)}}}, 4096, 0, 0, "oldest error lines: over the history's limit of 4096 bytes"},
		{"then the queries", triaged.Enrichment{Logs: []triaged.LogTail{{Source: "a", Lines: lines(10)}}, Metrics: []triaged.MetricEvidence{metric, metric}}, 4096, 0, 2, "error lines and the metrics' queries: over"},
		{"then all", triaged.Enrichment{ChangesSummary: strings.Repeat("c", 5000)}, 4096, -1, 0, "the evidence: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, omitted := historyEvidence(&tc.enr, tc.max)
			if !strings.Contains(omitted, tc.wantOmitted) || (tc.wantOmitted == "") != (omitted == "") {
				t.Errorf("omitted %q, want it to say %q", omitted, tc.wantOmitted)
			}
			if tc.wantLines < 0 {
				if got != nil {
					t.Errorf("evidence kept over the limit")
				}
				return
			}
			data, _ := json.Marshal(got)
			if len(data) > tc.max {
				t.Errorf("evidence of %d bytes, over %d", len(data), tc.max)
			}
			if n := len(got.Metrics); n != tc.wantMetrics || n > 0 && got.Metrics[0].Query != "" {
				t.Errorf("metrics %+v; want %d without queries", got.Metrics, tc.wantMetrics)
			}
			if l := got.Logs[0]; tc.wantLines > 0 && len(l.Lines) != tc.wantLines {
				t.Errorf("%d lines kept, want %d", len(l.Lines), tc.wantLines)
			}
			if l := got.Logs[0]; omitted != "" && (l.LinesOmitted != len(tc.enr.Logs[0].Lines)-len(l.Lines) || !l.Truncated ||
				len(l.Lines) > 0 && l.Lines[len(l.Lines)-1] != tc.enr.Logs[0].Lines[len(tc.enr.Logs[0].Lines)-1]) {
				t.Errorf("log %+v: want the newest lines kept, the rest counted as omitted", l)
			}
		})
	}
}
