package triage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/triage"
)

func f64(v float64) *float64 { return &v }

// metricsEnrichment is what a Prometheus enricher finds at the opening: the alert's expression
// with a graph, a catalog query without one, and the impact measured.
func metricsEnrichment() triaged.Enrichment {
	return triaged.Enrichment{
		Metrics: []triaged.MetricEvidence{
			{Name: triaged.AlertExpressionMetric, Query: "sum(rate(errors[5m]))", Now: f64(0.12), HasGraph: true},
			{Name: "request rate/5m", Query: "sum(rate(requests[5m]))", Now: f64(340)},
		},
		MeasuredImpact: &triaged.MeasuredImpact{Text: "≈ 12 % of requests failing, about 340 req/s affected", Queries: []string{"q1", "q2"}},
	}
}

// The report carries the opening's metrics, each graph at its path (the name path-escaped), and
// the impact measured; the enrichment the incident keeps is not changed.
func TestBuildReportCarriesTheMetrics(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 9, 0, 0, time.UTC)
	inc := &triaged.Incident{ID: "abc-1", OpenedAt: now, State: triaged.IncidentOpen}
	enr := metricsEnrichment()
	rep := triage.BuildReport(inc, &triaged.Alert{}, triaged.Service{}, triaged.Classification{Severity: triaged.P2}, enr, triaged.EventOpened, nil, now)
	if len(rep.Metrics) != 2 || rep.Metrics[0].Graph != "/api/v1/incidents/abc-1/graphs/alert.png" || rep.Metrics[1].Graph != "" {
		t.Fatalf("metrics %+v; want the alert's graph linked and no link for the query without a graph", rep.Metrics)
	}
	if enr.Metrics[0].Graph != "" {
		t.Error("BuildReport changed the incident's evidence")
	}
	if got := triaged.GraphPath("a/b", "x y?"); got != "/api/v1/incidents/a%2Fb/graphs/x%20y%3F.png" {
		t.Errorf("GraphPath = %q, want the id and the name path-escaped", got)
	}
	if rep.MeasuredImpact == nil || rep.UserImpact != enr.MeasuredImpact.Text {
		t.Errorf("user impact %q, measured %+v; want the measured text", rep.UserImpact, rep.MeasuredImpact)
	}
}

func TestUserImpact(t *testing.T) {
	measured := &triaged.MeasuredImpact{Text: "≈ 12 % of requests failing, about 340 req/s affected"}
	notMeasured := &triaged.MeasuredImpact{Why: "Prometheus answered 500"}
	for _, tc := range []struct {
		name, rule, annotation string
		m                      *triaged.MeasuredImpact
		event                  triaged.Event
		want                   string
	}{
		{"measured wins over the rule", "checkout slower", "", measured, triaged.EventOpened, measured.Text},
		{"measured, later report", "", "", measured, triaged.EventResolved, measured.Text + " (measured at the opening)"},
		{"not measured, the rule's text kept", "checkout slower", "", notMeasured, triaged.EventOpened, "checkout slower (not measured: Prometheus answered 500)"},
		{"not measured, the annotation kept", "", "half the users", notMeasured, triaged.EventOpened, "half the users (not measured: Prometheus answered 500)"},
		{"not measured, nothing stated", "", "", notMeasured, triaged.EventOpened, "Unknown: not measured: Prometheus answered 500"},
		{"no measure, the annotation", "", "half the users", nil, triaged.EventOpened, "half the users"},
		{"no measure, nothing", "", "", nil, triaged.EventOpened, "Unknown: no rule or annotation states it yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &triaged.Alert{}
			a.Annotations = map[string]string{}
			if tc.annotation != "" {
				a.Annotations["impact"] = tc.annotation
			}
			inc := &triaged.Incident{ID: "x", State: triaged.IncidentOpen}
			rep := triage.BuildReport(inc, a, triaged.Service{}, triaged.Classification{UserImpact: tc.rule}, triaged.Enrichment{MeasuredImpact: tc.m}, tc.event, nil, time.Time{})
			if rep.UserImpact != tc.want {
				t.Errorf("UserImpact = %q, want %q", rep.UserImpact, tc.want)
			}
		})
	}
}

type metricsEnricher struct{}

func (metricsEnricher) Enrich(context.Context, *triaged.Alert, triaged.Service, triaged.Classification) (triaged.Enrichment, func() (triaged.Enrichment, bool)) {
	enr := metricsEnrichment()
	enr.Graphs = []triaged.Graph{{Name: triaged.AlertExpressionMetric, PNG: []byte("\x89PNG not a real one")}}
	return enr, nil
}

// The resolution is built from the evidence the incident stored at the opening: it carries the
// opening's metrics and says the impact was measured then.
func TestTheResolutionCarriesTheOpeningsMetrics(t *testing.T) {
	e := newEnv(t)
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P2), Enricher: metricsEnricher{}, Graphs: broker.NewGraphStore(e.topo.Graphs)}, 1)
	e.publish(t, "firing-1-alert.json")
	opened := e.reports(t, 1)[0]
	e.publish(t, "firing-1-alert.json", func(a *template.Alert) { a.Status, a.EndsAt = triaged.StatusResolved, time.Now() })
	resolved := e.reports(t, 2)[1]
	if resolved.Event != triaged.EventResolved {
		t.Fatalf("second report is %s, want resolved", resolved.Event)
	}
	for _, rep := range []triaged.Report{opened, resolved} {
		if len(rep.Metrics) != 2 || rep.Metrics[0].Now == nil || *rep.Metrics[0].Now != 0.12 ||
			rep.Metrics[0].Graph != triaged.GraphPath(rep.IncidentID, "alert") {
			t.Errorf("%s report metrics %+v; want the opening's, with the graph's path", rep.Event, rep.Metrics)
		}
	}
	if !strings.HasSuffix(resolved.UserImpact, "(measured at the opening)") || strings.Contains(opened.UserImpact, "opening") {
		t.Errorf("user impact opened %q, resolved %q; want the resolution to say the measure is the opening's", opened.UserImpact, resolved.UserImpact)
	}
}
