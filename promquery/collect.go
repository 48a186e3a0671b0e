package promquery

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/sourcegraph/conc"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/graph"
)

const (
	// AlertBefore is how far back the alert expression's "before" value is taken.
	AlertBefore = time.Hour
	// MaxWindow bounds the range a window's query spans.
	MaxWindow = 8 * 24 * time.Hour
)

// Request is what the queries of one incident need.
type Request struct {
	// Now is when the queries are evaluated; AlertStart the alert's startsAt (Now when zero).
	Now, AlertStart time.Time
	// Labels are the alert's labels: the alert expression's series is the one they match.
	Labels map[string]string
	// Values fill the catalog queries' placeholders.
	Values Values
	// Queries and Impact are the service's catalog queries, run against Server.
	Queries []*Template
	Impact  *UserImpactSpec
	Server  *Client
	// AlertServer is the server the alert's generator URL points at, GeneratorURL that URL;
	// the alert's own expression is queried when both are set.
	AlertServer  *Client
	GeneratorURL string
	// Timeout bounds all the queries; Before and Window are Settings' Before and Window.
	Timeout, Before, Window time.Duration
}

// Window is the points of one query's window, for its graph.
type Window struct {
	Name, Unit string
	Points     []graph.Point
	Threshold  *float64
	// Start is the alert's start, marked on the graph.
	Start time.Time
}

// Result is what Prometheus said about one incident.
type Result struct {
	// Metrics are the alert expression's evidence (when queried) first, then the catalog's in
	// order.
	Metrics []triaged.MetricEvidence
	// Impact is nil when the service has no user_impact.
	Impact *triaged.MeasuredImpact
	// Windows are the windows with points, in the order of Metrics.
	Windows []Window
}

// job is one query of the incident: its three requests and what came back.
type job struct {
	ev     triaged.MetricEvidence
	client *Client
	before time.Time
	alert  *AlertExpr
	// now, prev and window are the answers at Now, at the "before" time and over the window.
	now, prev, window model.Value
	errs              [3]error
}

// Collect runs every query of the request at once, each as three requests (now, before, the
// window), and returns by req.Timeout whatever the servers do: a request not answered by then
// gives its evidence the Error "no answer within …". m may be nil.
func Collect(ctx context.Context, req Request, m *Metrics) Result {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	req.Now = req.Now.UTC().Truncate(time.Second)
	if req.AlertStart.IsZero() || req.AlertStart.After(req.Now) {
		req.AlertStart = req.Now
	}
	// An alert that started long before its opening (a long group_wait, a restart) does not
	// stretch the window past MaxWindow.
	from := req.AlertStart.Add(-req.Window).Truncate(time.Second)
	if earliest := req.Now.Add(-MaxWindow); from.Before(earliest) {
		from = earliest
	}
	rng := v1.Range{Start: from, End: req.Now, Step: step(req.Now.Sub(from))}

	var jobs []*job
	if req.AlertServer != nil && req.GeneratorURL != "" {
		jobs = append(jobs, alertJob(req))
	}
	for _, t := range req.Queries {
		j := &job{client: req.Server, before: req.Now.Add(-req.Before)}
		j.ev = triaged.MetricEvidence{Name: t.Name, Unit: t.Unit, At: req.Now, BeforeOffsetMinutes: int(req.Before / time.Minute)}
		q, err := t.Fill(req.Values)
		if err != nil {
			j.ev.Error = "not queried: " + err.Error()
		}
		j.ev.Query = q
		jobs = append(jobs, j)
	}

	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	var wg conc.WaitGroup
	for _, j := range jobs {
		if j.ev.Error != "" || j.client == nil {
			continue
		}
		q := j.ev.Query
		wg.Go(func() {
			j.now, j.errs[0] = call(ctx, m, func() (model.Value, error) { return j.client.instant(ctx, q, req.Now) })
		})
		wg.Go(func() {
			j.prev, j.errs[1] = call(ctx, m, func() (model.Value, error) { return j.client.instant(ctx, q, j.before) })
		})
		wg.Go(func() {
			j.window, j.errs[2] = call(ctx, m, func() (model.Value, error) { return j.client.rangeQuery(ctx, q, rng) })
		})
	}
	wg.Wait()

	var res Result
	for _, j := range jobs {
		j.ev.WindowStart, j.ev.WindowEnd = rng.Start, rng.End
		pts := j.assemble(ctx, req, rng.Step)
		res.Metrics = append(res.Metrics, j.ev)
		if len(pts) > 0 {
			w := Window{Name: j.ev.Name, Unit: j.ev.Unit, Points: pts, Threshold: j.ev.Threshold, Start: req.AlertStart}
			res.Windows = append(res.Windows, w)
		}
	}
	if req.Impact != nil {
		res.Impact = Impact(*req.Impact, res.Metrics)
	}
	return res
}

func alertJob(req Request) *job {
	j := &job{client: req.AlertServer, before: req.Now.Add(-AlertBefore)}
	j.ev = triaged.MetricEvidence{Name: triaged.AlertExpressionMetric, At: req.Now, BeforeOffsetMinutes: int(AlertBefore / time.Minute)}
	expr := GeneratorExpr(req.GeneratorURL)
	j.ev.Expr = expr
	if expr == "" {
		j.ev.Error = "not queried: the alert's generator URL carries no expression (g0.expr)"
		return j
	}
	ae, err := ParseAlertExpr(expr)
	if err != nil {
		j.ev.Error = "not queried: " + err.Error()
		return j
	}
	j.alert, j.ev.Query = &ae, ae.Value
	if ae.Comparison != "" {
		t := ae.Threshold
		j.ev.Threshold, j.ev.Comparison = &t, ae.Comparison
	}
	return j
}

// call makes one request and counts it.
func call(ctx context.Context, m *Metrics, f func() (model.Value, error)) (model.Value, error) {
	start := time.Now()
	v, err := f()
	outcome := OutcomeOK
	switch {
	case err != nil:
		_, outcome = describe(ctx, err, 0)
	case empty(v):
		outcome = OutcomeEmpty
	}
	m.observe(outcome, time.Since(start).Seconds())
	return v, err
}

func empty(v model.Value) bool {
	switch v := v.(type) {
	case model.Vector:
		return len(v) == 0
	case model.Matrix:
		return len(v) == 0
	}
	return v == nil
}

// assemble reads the job's answers into its evidence and returns the window's points.
func (j *job) assemble(ctx context.Context, req Request, step time.Duration) []graph.Point {
	ev := &j.ev
	if ev.Error != "" || j.client == nil {
		return nil
	}
	if err := firstErr(j.errs[:]); err != nil {
		ev.Error, _ = describe(ctx, err, req.Timeout)
	}
	if j.errs[0] != nil {
		return nil
	}
	now := samples(j.now)
	ev.Series = len(now)
	var pick int
	switch {
	case len(now) == 0:
		ev.Error = fmt.Sprintf("no series: the query matched nothing at %s", req.Now.Format(time.RFC3339))
		return nil
	case j.alert != nil:
		if pick = matching(now, req.Labels); pick < 0 {
			ev.Error = fmt.Sprintf("none of the %d series of the expression has the alert's labels", len(now))
			return nil
		}
	default:
		pick = highest(now)
	}
	chosen := now[pick]
	ev.SeriesLabels = trimLabels(chosen.labels)
	if ev.Now = value(chosen.value); ev.Now == nil && ev.Error == "" {
		ev.Error = notFinite(chosen.value)
	}
	if prev := samples(j.prev); j.errs[1] == nil {
		if i := same(prev, chosen.labels); i >= 0 {
			ev.Before = value(prev[i].value)
		}
	}
	ev.ChangePercent = changePercent(ev.Now, ev.Before)
	if j.errs[2] != nil {
		return nil
	}
	pts := stream(j.window, chosen.labels)
	ev.Sparkline = sparkline(pts, ev.WindowStart, ev.WindowEnd)
	ev.Trend = trend(pts)
	if j.alert != nil {
		ev.CrossedAt = j.alert.crossedAt(pts, ev.WindowStart, req.AlertStart, step)
	}
	return pts
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
