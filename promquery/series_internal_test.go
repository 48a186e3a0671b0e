package promquery

import (
	"testing"
	"time"

	"github.com/triaged/triaged/graph"
)

func points(from time.Time, step time.Duration, vs ...float64) []graph.Point {
	var out []graph.Point
	for i, v := range vs {
		if v >= 0 { // a negative value stands for a missing sample here
			out = append(out, graph.Point{T: from.Add(time.Duration(i) * step), V: v})
		}
	}
	return out
}

func TestSparklineAndTrend(t *testing.T) {
	from := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Minute)
	for _, tt := range []struct {
		name         string
		pts          []graph.Point
		spark, trend string
	}{
		{"flat", points(from, time.Minute, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5), "▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁", "steady"},
		{"rising", points(from, time.Minute, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23), "▁▁▂▂▂▃▃▃▃▄▄▄▅▅▅▆▆▆▆▇▇▇██", "rising"},
		{"falling with a gap", points(from, time.Minute, 9, 9, 9, 9, 9, 9, 9, 9, -1, -1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), "████████  ▁▁▁▁▁▁▁▁▁▁▁▁▁▁", "falling"},
		{"too few", points(from, time.Minute, 1, 2), "▁█", ""},
		{"none", nil, "", ""},
	} {
		if got := sparkline(tt.pts, from, to); got != tt.spark {
			t.Errorf("%s: sparkline %q, want %q", tt.name, got, tt.spark)
		}
		if got := trend(tt.pts); got != tt.trend {
			t.Errorf("%s: trend %q, want %q", tt.name, got, tt.trend)
		}
	}
}

func TestCrossedAt(t *testing.T) {
	from := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	at := func(i int) *time.Time { t := from.Add(time.Duration(i) * time.Minute); return &t }
	gt := AlertExpr{Comparison: ">", Threshold: 0.5}
	none := AlertExpr{}
	start := from.Add(8 * time.Minute)
	for _, tt := range []struct {
		name string
		ae   AlertExpr
		pts  []graph.Point
		want *time.Time
	}{
		{"crossed once", gt, points(from, time.Minute, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1), at(3)},
		{"the last crossing counts", gt, points(from, time.Minute, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1), at(5)},
		{"a gap ends a run", gt, points(from, time.Minute, 0, 1, 1, -1, 1, 1, 1, 1, 1, 1), at(4)},
		{"above since before the window", gt, points(from, time.Minute, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), nil},
		{"never above", gt, points(from, time.Minute, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), nil},
		{"crossing after the start", gt, points(from, time.Minute, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1), nil},
		{"no comparison: the run's start", none, points(from, time.Minute, -1, -1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3), at(2)},
		{"no comparison: no sample at the start", none, points(from, time.Minute, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1), nil},
	} {
		got := tt.ae.crossedAt(tt.pts, from, start, time.Minute)
		if (got == nil) != (tt.want == nil) || got != nil && !got.Equal(*tt.want) {
			t.Errorf("%s: crossed at %v, want %v", tt.name, got, tt.want)
		}
	}
}
