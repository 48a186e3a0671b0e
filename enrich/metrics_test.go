package enrich_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/catalog"
	"github.com/triaged/triaged/enrich"
	"github.com/triaged/triaged/graph"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/promfake"
	"github.com/triaged/triaged/promquery"
)

func servers(t *testing.T, url string, own map[string]*promquery.Server) *promquery.Servers {
	t.Helper()
	s := promquery.DefaultSettings()
	s.URL = url
	srv, err := promquery.NewServers(s, own)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func checkoutWithMetrics() catalog.Service {
	return catalog.Service{Name: "checkout", Metrics: []promquery.QuerySpec{
		{Name: "request_rate", Query: `sum(rate(http_requests_total{service=$service}[5m]))`, Unit: "req/s"},
		{Name: "error_ratio", Query: `sum(rate(http_requests_total{service=$service,code=~"5.."}[5m])) / sum(rate(http_requests_total{service=$service}[5m]))`, Unit: "ratio"},
	}, UserImpact: &promquery.UserImpactSpec{FailingRatio: "error_ratio", RequestRate: "request_rate"}}
}

func constant(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }

// The metrics enricher fills the evidence, the alert's expression first, the user impact and a
// graph per query with data; a graph that fails to render is left out, the query is not failed.
func TestMetricsEvidence(t *testing.T) {
	prom := promfake.New(t)
	prom.Set(`sum(rate(http_requests_total{service="checkout"}[5m]))`, promfake.Series{Value: constant(2833)})
	prom.Set(`sum(rate(http_requests_total{code=~"5..",service="checkout"}[5m])) / sum(rate(http_requests_total{service="checkout"}[5m]))`, promfake.Series{Value: constant(0.12)})
	prom.Set(`up{job="checkout"}`, promfake.Series{Labels: map[string]string{"job": "checkout", "instance": "10.0.0.7:8080"}, Value: constant(0)})
	a := checkoutAlert()
	a.GeneratorURL = prom.URL + "/graph?g0.expr=" + url.QueryEscape(`up{job="checkout"} == 0`)
	a.Labels["job"] = "checkout"
	cat := mustCatalog(t, checkoutWithMetrics())
	reg := prometheus.NewRegistry()
	render := func(s graph.Spec) ([]byte, error) {
		if s.Title == "request_rate · checkout" {
			return nil, errors.New("no font")
		}
		return []byte("PNG " + s.Title), nil
	}
	e := enrich.New(enrich.Options{Catalog: cat, Registerer: reg, Timeout: 5 * time.Second, Prometheus: servers(t, prom.URL, nil), RenderGraph: render})
	enr, _ := e.Enrich(context.Background(), a, cat.Resolve(a), triaged.Classification{Severity: triaged.P2})

	var names []string
	for _, ev := range enr.Metrics {
		names = append(names, ev.Name)
		if ev.Error != "" || ev.Now == nil {
			t.Errorf("%s: %+v, want a value", ev.Name, ev)
		}
		if ev.HasGraph != (ev.Name != "request_rate") {
			t.Errorf("%s: has graph %v", ev.Name, ev.HasGraph)
		}
	}
	if got := strings.Join(names, ","); got != "alert,request_rate,error_ratio" {
		t.Errorf("evidence %s, want the alert's first, then the catalog's in order", got)
	}
	if enr.MeasuredImpact == nil || enr.MeasuredImpact.Text != "≈ 12 % of requests failing, about 340 req/s affected" {
		t.Errorf("impact %+v", enr.MeasuredImpact)
	}
	if len(enr.Graphs) != 2 || enr.Graphs[0].Name != "alert" || string(enr.Graphs[1].PNG) != "PNG error_ratio · checkout" {
		t.Errorf("graphs %+v, want the alert's and error_ratio's", enr.Graphs)
	}
	if alert := enr.Metrics[0]; alert.Threshold == nil || *alert.Threshold != 0 || alert.Comparison != "==" || alert.Query != `up{job="checkout"}` {
		t.Errorf("alert evidence %+v", alert)
	}
	for _, p := range enr.Pending {
		if p == triaged.SectionMetrics {
			t.Errorf("metrics pending: %s", enr.PendingWhy[p])
		}
	}
	if got := metrictest.Value(t, reg, "triaged_prometheus_queries_total", "outcome", "ok"); got != 9 {
		t.Errorf("ok queries %v, want 9", got)
	}
	if got := metrictest.Value(t, reg, "triaged_enrichment_results_total", "enricher", "metrics", "outcome", "ok"); got != 1 {
		t.Errorf("metrics enricher ok %v, want 1", got)
	}
}

// A Prometheus that hangs or answers 500 does not hold the opening: the enrichment returns by its
// deadline, every query saying why it gave nothing.
func TestMetricsFromAFailingPrometheus(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		handle     func(w http.ResponseWriter, r *http.Request, req promfake.Request) bool
	}{
		{"500", "Prometheus answered 500: overloaded", func(w http.ResponseWriter, _ *http.Request, _ promfake.Request) bool {
			http.Error(w, "overloaded", http.StatusInternalServerError)
			return true
		}},
		{"hanging", "no answer within", func(_ http.ResponseWriter, r *http.Request, _ promfake.Request) bool {
			<-r.Context().Done()
			return true
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prom := promfake.New(t)
			prom.Handle = tt.handle
			cat := mustCatalog(t, checkoutWithMetrics())
			// The enrichment's deadline is shorter than prometheus.timeout: the queries end before it,
			// by a tenth of it. 2s leaves 200ms for the enricher to return, which a loaded machine
			// under the race detector needs (400ms left 40ms, and the enricher was once late).
			e := enrich.New(enrich.Options{Catalog: cat, Registerer: prometheus.NewRegistry(), Timeout: 2 * time.Second, Prometheus: servers(t, prom.URL, nil)})
			a := checkoutAlert()
			start := time.Now()
			enr, late := e.Enrich(context.Background(), a, cat.Resolve(a), triaged.Classification{Severity: triaged.P2})
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Enrich took %v with a deadline of 2s", took)
			}
			if late != nil {
				t.Error("the metrics enricher was still running at the deadline")
			}
			if len(enr.Metrics) != 2 {
				t.Fatalf("evidence %+v, want both queries', failed", enr.Metrics)
			}
			for _, ev := range enr.Metrics {
				if ev.Now != nil || !strings.Contains(ev.Error, tt.want) {
					t.Errorf("%s: error %q, want %q", ev.Name, ev.Error, tt.want)
				}
			}
			if enr.MeasuredImpact == nil || !strings.Contains(enr.MeasuredImpact.Why, tt.want) {
				t.Errorf("impact %+v, want why: %s", enr.MeasuredImpact, tt.want)
			}
		})
	}
}

// With nothing to ask, the Metrics section is pending, saying why; an alert of another
// Prometheus is not asked about.
func TestMetricsPending(t *testing.T) {
	prom := promfake.New(t)
	other := promfake.New(t)
	a := checkoutAlert()
	a.GeneratorURL = other.URL + "/graph?g0.expr=up+%3D%3D+0"
	for _, tt := range []struct {
		name     string
		servers  *promquery.Servers
		services []catalog.Service
		want     string
	}{
		{"no Prometheus", nil, []catalog.Service{checkoutWithMetrics()}, "no Prometheus is configured (prometheus: in the config)"},
		{"no queries", servers(t, prom.URL, nil), []catalog.Service{{Name: "checkout"}},
			"service checkout has no metrics queries in the catalog and the alert's generator URL is not of the configured Prometheus"},
		{"queries but no server", servers(t, "", map[string]*promquery.Server{"payments": {URL: prom.URL}}), []catalog.Service{checkoutWithMetrics(), {Name: "payments"}},
			"service checkout has metrics queries but no Prometheus to ask (neither prometheus: nor its own prometheus: is configured) and the alert's generator URL is not of the configured Prometheus"},
		{"not in the catalog", servers(t, prom.URL, nil), []catalog.Service{{Name: "payments"}},
			"service checkout is not in the service catalog and the alert's generator URL is not of the configured Prometheus"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cat := mustCatalog(t, tt.services...)
			e := enrich.New(enrich.Options{Catalog: cat, Registerer: prometheus.NewRegistry(), Prometheus: tt.servers})
			enr, _ := e.Enrich(context.Background(), a, cat.Resolve(a), triaged.Classification{Severity: triaged.P2})
			if enr.PendingWhy[triaged.SectionMetrics] != tt.want || len(enr.Metrics) != 0 {
				t.Errorf("metrics pending %q, evidence %+v; want pending %q", enr.PendingWhy[triaged.SectionMetrics], enr.Metrics, tt.want)
			}
		})
	}
	if n := len(prom.Requests()) + len(other.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// A service's own Prometheus takes its catalog queries; the alert's expression goes to the server
// its generator URL points at.
func TestServiceOwnPrometheus(t *testing.T) {
	global, own := promfake.New(t), promfake.New(t)
	for _, p := range []*promfake.Server{global, own} {
		p.Set(`sum(rate(http_requests_total{service="checkout"}[5m]))`, promfake.Series{Value: constant(1)})
		p.Set(`sum(rate(http_requests_total{code=~"5..",service="checkout"}[5m])) / sum(rate(http_requests_total{service="checkout"}[5m]))`, promfake.Series{Value: constant(0)})
		p.Set(`up`, promfake.Series{Labels: map[string]string{"service": "checkout"}, Value: constant(0)})
	}
	a := checkoutAlert()
	a.GeneratorURL = global.URL + "/graph?g0.expr=up+%3C+1"
	svc := checkoutWithMetrics()
	svc.Prometheus = &promquery.Server{URL: own.URL}
	cat := mustCatalog(t, svc)
	e := enrich.New(enrich.Options{Catalog: cat, Registerer: prometheus.NewRegistry(), Prometheus: servers(t, global.URL, map[string]*promquery.Server{"checkout": svc.Prometheus})})
	enr, _ := e.Enrich(context.Background(), a, cat.Resolve(a), triaged.Classification{Severity: triaged.P2})
	if len(enr.Metrics) != 3 {
		t.Fatalf("evidence %+v", enr.Metrics)
	}
	for _, r := range global.Requests() {
		if r.Query != "up" {
			t.Errorf("the global Prometheus got %q, want only the alert's expression", r.Query)
		}
	}
	for _, r := range own.Requests() {
		if r.Query == "up" {
			t.Error("the service's own Prometheus got the alert's expression of the global one")
		}
	}
	if len(global.Requests()) != 3 || len(own.Requests()) != 6 {
		t.Errorf("%d requests to the global, %d to the service's own; want 3 and 6", len(global.Requests()), len(own.Requests()))
	}
}
