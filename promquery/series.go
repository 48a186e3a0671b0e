package promquery

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/triaged/triaged/graph"
)

// The bounds of what one query's answer contributes to a report, beyond the answer's size
// (max_response_bytes).
const (
	// SparklineWidth is the characters of a sparkline.
	SparklineWidth = 24
	// TargetPoints is how many steps a window's range query asks for (60 to 120 it gets).
	TargetPoints = 90
	// MaxPoints bounds the samples kept of the one series a window shows.
	MaxPoints = 2000
	// MaxSeriesLabels bounds the labels kept of the series shown.
	MaxSeriesLabels = 32
)

// sample is one series of an instant answer.
type sample struct {
	labels model.Metric
	value  float64
}

// samples reads an instant answer: a vector's series, or a scalar as one series without labels.
func samples(v model.Value) []sample {
	switch v := v.(type) {
	case model.Vector:
		out := make([]sample, 0, len(v))
		for _, s := range v {
			out = append(out, sample{labels: s.Metric, value: float64(s.Value)})
		}
		return out
	case *model.Scalar:
		return []sample{{labels: model.Metric{}, value: float64(v.Value)}}
	}
	return nil
}

// highest is the series with the highest finite value, else the first; -1 when there is none.
// A tie goes to the lower label set, so that the choice does not depend on the answer's order.
func highest(ss []sample) int {
	best := -1
	for i, s := range ss {
		switch {
		case best < 0:
			best = i
		case !finite(s.value):
		case !finite(ss[best].value) || s.value > ss[best].value ||
			s.value == ss[best].value && s.labels.Before(ss[best].labels):
			best = i
		}
	}
	return best
}

// matching is the first series whose labels (but the metric name) all have the alert's value;
// -1 when none has.
func matching(ss []sample, alert map[string]string) int {
	for i, s := range ss {
		if labelsMatch(s.labels, alert) {
			return i
		}
	}
	return -1
}

func labelsMatch(m model.Metric, alert map[string]string) bool {
	for k, v := range m {
		if k == model.MetricNameLabel {
			continue
		}
		if av, ok := alert[string(k)]; !ok || av != string(v) {
			return false
		}
	}
	return true
}

// same is the series with exactly the labels of m; -1 when there is none.
func same(ss []sample, m model.Metric) int {
	for i, s := range ss {
		if s.labels.Equal(m) {
			return i
		}
	}
	return -1
}

// stream is the points of the range answer's series with exactly the labels of m, oldest first,
// at most MaxPoints (the newest); non-finite values are left out, as gaps.
func stream(v model.Value, m model.Metric) []graph.Point {
	var values []model.SamplePair
	switch v := v.(type) {
	case model.Matrix:
		for _, s := range v {
			if s.Metric.Equal(m) {
				values = s.Values
				break
			}
		}
	case *model.Scalar:
		values = []model.SamplePair{{Timestamp: v.Timestamp, Value: v.Value}}
	}
	if len(values) > MaxPoints {
		values = values[len(values)-MaxPoints:]
	}
	out := make([]graph.Point, 0, len(values))
	for _, p := range values {
		if finite(float64(p.Value)) {
			out = append(out, graph.Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// value is f for a report, or nil when it is not a finite number (JSON has no NaN or Inf).
func value(f float64) *float64 {
	if !finite(f) {
		return nil
	}
	return &f
}

// notFinite says what a NaN or infinite value is, for the report.
func notFinite(f float64) string {
	switch {
	case math.IsNaN(f):
		return "the value is NaN (a division of zero by zero?)"
	case math.IsInf(f, 1):
		return "the value is +Inf (a division by zero?)"
	}
	return "the value is -Inf"
}

// changePercent is (now-before)/|before| in percent; nil without both or when before is 0.
func changePercent(now, before *float64) *float64 {
	if now == nil || before == nil || *before == 0 {
		return nil
	}
	return value((*now - *before) / math.Abs(*before) * 100)
}

// step is the range query's resolution for a window: about TargetPoints steps, whole seconds.
func step(window time.Duration) time.Duration {
	s := (window + TargetPoints - 1) / TargetPoints
	return max(s.Round(time.Second), time.Second)
}

var blocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the points in SparklineWidth columns over [from, to], each the mean of the
// points in it, scaled from the lowest to the highest; a column without points is a space.
func sparkline(pts []graph.Point, from, to time.Time) string {
	if len(pts) == 0 || !to.After(from) {
		return ""
	}
	var sum [SparklineWidth]float64
	var n [SparklineWidth]int
	span := to.Sub(from)
	for _, p := range pts {
		i := int(float64(p.T.Sub(from)) / float64(span) * SparklineWidth)
		i = min(max(i, 0), SparklineWidth-1)
		sum[i] += p.V
		n[i]++
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range sum {
		if n[i] > 0 {
			sum[i] /= float64(n[i])
			lo, hi = min(lo, sum[i]), max(hi, sum[i])
		}
	}
	var b strings.Builder
	for i := range sum {
		switch {
		case n[i] == 0:
			b.WriteByte(' ')
		case hi == lo:
			b.WriteRune(blocks[0])
		default:
			b.WriteRune(blocks[int((sum[i]-lo)/(hi-lo)*float64(len(blocks)-1)+0.5)])
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// trend compares the mean of the window's last third with its first: "rising" or "falling"
// when they differ by more than a tenth of the larger magnitude, else "steady"; "" with fewer
// than 3 points.
func trend(pts []graph.Point) string {
	if len(pts) < 3 {
		return ""
	}
	third := len(pts) / 3
	mean := func(ps []graph.Point) float64 {
		s := 0.0
		for _, p := range ps {
			s += p.V
		}
		return s / float64(len(ps))
	}
	first, last := mean(pts[:third]), mean(pts[len(pts)-third:])
	scale := max(math.Abs(first), math.Abs(last))
	switch {
	case scale == 0 || math.Abs(last-first) <= scale/10:
		return "steady"
	case last > first:
		return "rising"
	}
	return "falling"
}

// trimLabels keeps at most MaxSeriesLabels labels of a series, the metric name first.
func trimLabels(m model.Metric) map[string]string {
	if len(m) == 0 {
		return nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, string(k))
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == model.MetricNameLabel) != (names[j] == model.MetricNameLabel) {
			return names[i] == model.MetricNameLabel
		}
		return names[i] < names[j]
	})
	out := make(map[string]string, min(len(names), MaxSeriesLabels))
	for _, k := range names[:min(len(names), MaxSeriesLabels)] {
		out[k] = string(m[model.LabelName(k)])
	}
	return out
}
