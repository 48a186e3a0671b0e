package triaged

import "time"

// SectionMetrics is the report's Metrics section, as Pending names it: what the service's own
// Prometheus said, queried at the opening.
const SectionMetrics = "metrics"

// AlertExpressionMetric is the Name of the MetricEvidence of the alert's own expression (its
// generator URL's g0.expr); catalog queries may not take it.
const AlertExpressionMetric = "alert"

// MetricEvidence is what one PromQL query said about an incident when it opened: the alert's own
// expression (Name AlertExpressionMetric) or a query of the service catalog. A value that was
// not looked at, or not found, is nil, never 0; Error says why the query gave nothing.
type MetricEvidence struct {
	// Name is the query's name in the catalog ("error_ratio"), or AlertExpressionMetric.
	Name string `json:"name"`
	// Query is the PromQL that ran, with the alert's label values inserted as string literals;
	// for the alert's expression, the expression's value side (its comparison taken off).
	Query string `json:"query"`
	// Expr is the alert's expression as its generator URL carries it (alert expression only).
	Expr string `json:"expr,omitempty"`
	// Unit is how the value reads: "ratio" (0..1, shown as a percentage), "percent", "seconds",
	// "bytes", "req/s", another free-form unit, or "" for a plain number.
	Unit string `json:"unit,omitempty"`
	// At is the "now" the query was evaluated at.
	At  time.Time `json:"at"`
	Now *float64  `json:"now,omitempty"`
	// Before is the value BeforeOffsetMinutes before At (an hour for the alert's expression).
	Before              *float64 `json:"before,omitempty"`
	BeforeOffsetMinutes int      `json:"before_offset_minutes,omitempty"`
	// ChangePercent is (Now-Before)/|Before| in percent; nil when either is missing or Before is 0.
	ChangePercent *float64 `json:"change_percent,omitempty"`
	// Trend is "rising", "falling" or "steady" over the window; "" when not enough points.
	Trend string `json:"trend,omitempty"`
	// Sparkline is the window's values as one line of block characters ("▁▂▃▅▇█").
	Sparkline string `json:"sparkline,omitempty"`
	// WindowStart and WindowEnd bound the range the sparkline and the graph show.
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
	// Series counts the series the query returned; the values are of the one SeriesLabels
	// names (the alert's own, for its expression; else the highest) when there are several.
	Series       int               `json:"series"`
	SeriesLabels map[string]string `json:"series_labels,omitempty"`
	// Threshold and Comparison are the alert expression's comparison ("> 0.05"), and CrossedAt
	// when the value last crossed it before the alert started (alert expression only).
	Threshold  *float64   `json:"threshold,omitempty"`
	Comparison string     `json:"comparison,omitempty"`
	CrossedAt  *time.Time `json:"crossed_at,omitempty"`
	// HasGraph says a PNG of the window was rendered and stored with the incident; Graph is
	// then its path under the daemon, "/api/v1/incidents/{id}/graphs/{name}.png", set when the
	// report is built.
	HasGraph bool   `json:"has_graph,omitempty"`
	Graph    string `json:"graph,omitempty"`
	// Error says why the query gave no value ("Prometheus answered 500: …", "no series: …").
	Error string `json:"error,omitempty"`
}

// MeasuredImpact is the user impact computed from the catalog's user-impact queries:
// "≈ 12 % of requests failing, about 340 req/s affected".
type MeasuredImpact struct {
	// Text is the sentence the report's User Impact shows; "" when it could not be computed.
	Text string `json:"text,omitempty"`
	// FailingRatio is the share of requests failing (0..1), RequestRate the requests per second
	// (nil when not configured or not found), and Affected their product.
	FailingRatio *float64 `json:"failing_ratio,omitempty"`
	RequestRate  *float64 `json:"request_rate,omitempty"`
	Affected     *float64 `json:"affected,omitempty"`
	// Queries are the PromQL that ran, in the order ratio, rate.
	Queries []string `json:"queries,omitempty"`
	// Why says why it could not be computed; "" when Text is set.
	Why string `json:"why,omitempty"`
}

// Graph is a rendered PNG of one query's window, to be stored with the incident.
type Graph struct {
	Name string
	PNG  []byte
}
