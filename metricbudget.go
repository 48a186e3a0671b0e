package triaged

import (
	"fmt"
	"unicode/utf8"
)

// metricCuts trims the metrics evidence of a report or an incident's record for a budget, and
// remembers what it cut over every level, to say so.
type metricCuts struct {
	omitted    int // metrics left out, the last ones: the alert's own expression is first
	sparklines int // sparklines shortened to their latest points, at the level that cut most
	pairs      int // series labels left out
	points     int // the points a sparkline kept at the last level that cut one
}

// trim keeps the first n metrics, each sparkline's last 4n points (the ones nearest the alert)
// and each metric's series labels to max(n/4, 2). Long queries and errors are left to the
// budget's cut of every value.
func (c *metricCuts) trim(ms []MetricEvidence, n int) []MetricEvidence {
	if d := len(ms) - n; d > 0 {
		ms, c.omitted = ms[:n:n], c.omitted+d
	}
	cut := 0
	for i := range ms {
		m := &ms[i]
		if k := utf8.RuneCountInString(m.Sparkline); k > 4*n {
			r := []rune(m.Sparkline)
			m.Sparkline, c.points = string(r[k-4*n:]), 4*n
			cut++
		}
		c.pairs += keepPairs(&m.SeriesLabels, max(n/4, 2))
	}
	// A later level cuts again the sparklines an earlier one cut: count them once.
	c.sparklines = max(c.sparklines, cut)
	return ms
}

// notes say what trim left out; kept is how many metrics are left.
func (c *metricCuts) notes(kept int) []string {
	var out []string
	if c.omitted > 0 {
		out = append(out, fmt.Sprintf("metrics: the first %d listed (the alert's own expression first), %d more left out", kept, c.omitted))
	}
	if c.sparklines > 0 {
		out = append(out, fmt.Sprintf("metrics: %d sparklines shortened to their last %d points", c.sparklines, c.points))
	}
	if c.pairs > 0 {
		out = append(out, fmt.Sprintf("metrics: %d series labels left out", c.pairs))
	}
	return out
}

// TrimMetrics is the budget's trim of a metrics list for a record that holds one, such as an
// incident's evidence: the first n metrics, their sparklines and series labels bounded. It
// returns what is kept and, in words, what it left out.
func TrimMetrics(ms []MetricEvidence, n int) ([]MetricEvidence, []string) {
	var c metricCuts
	ms = c.trim(ms, n)
	return ms, c.notes(len(ms))
}
