package enrich

import (
	"context"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/graph"
	"github.com/triaged/triaged/promquery"
)

// metricsFinding is what the metrics enricher found: the evidence, the user impact and the
// graphs of the evidence that has one.
type metricsFinding struct {
	evidence []triaged.MetricEvidence
	impact   *triaged.MeasuredImpact
	graphs   []triaged.Graph
}

// SetPrometheus swaps the query APIs the metrics evidence comes from, for the incidents that
// open from now on (a reload); nil: none is configured.
func (e *Enricher) SetPrometheus(s *promquery.Servers) { e.prom.Store(s) }

// metricsTasks plans the metrics enricher of an alert about svc: the alert's own expression when
// its generator URL points at a configured server, and the service's catalog queries. With
// nothing to query, it marks the Metrics section pending, with why.
func (e *Enricher) metricsTasks(a *triaged.Alert, svc triaged.Service, enr *triaged.Enrichment, deadline time.Time) []task {
	servers := e.prom.Load()
	if !servers.Configured() {
		enr.Pend(triaged.SectionMetrics, "no Prometheus is configured (prometheus: in the config)")
		return nil
	}
	settings := servers.Settings
	req := promquery.Request{
		AlertStart:   a.StartsAt,
		Labels:       a.Labels,
		Values:       promquery.Values{Service: svc.Name, Environment: svc.Environment, AlertName: a.Name(), Labels: a.Labels},
		AlertServer:  servers.ForGenerator(a.GeneratorURL, svc.Name),
		GeneratorURL: a.GeneratorURL,
		Before:       settings.Before.Std(),
		Window:       settings.Window.Std(),
	}
	why := "service " + svc.Name + " is not in the service catalog"
	if svc.Catalogue == triaged.InCatalog && e.o.Catalog != nil {
		if entry := e.o.Catalog.Service(svc.Name); entry != nil {
			why = "service " + svc.Name + " has no metrics queries in the catalog"
			if req.Server = servers.ForService(svc.Name); req.Server != nil {
				req.Queries, req.Impact = entry.Queries(), entry.UserImpact
			} else if len(entry.Queries()) > 0 {
				why = "service " + svc.Name + " has metrics queries but no Prometheus to ask (neither prometheus: nor its own prometheus: is configured)"
			}
		}
	}
	if len(req.Queries) == 0 && req.AlertServer == nil {
		enr.Pend(triaged.SectionMetrics, why+" and the alert's generator URL is not of the configured Prometheus")
		return nil
	}
	return []task{{kind: KindMetrics, run: func(ctx context.Context) finding {
		// The queries end before the incident's deadline, leaving a tenth of what is left for
		// the graphs and the hand-over, so that the evidence is in the opening.
		left := time.Until(deadline)
		if deadline.IsZero() {
			left = settings.Timeout.Std()
		}
		req.Now = time.Now()
		req.Timeout = min(settings.Timeout.Std(), left*9/10)
		res := promquery.Collect(ctx, req, e.promMetrics)
		f := finding{metrics: &metricsFinding{evidence: res.Metrics, impact: res.Impact}}
		if settings.Graphs && e.o.RenderGraph != nil && len(res.Windows) > 0 {
			e.renderGraphs(f.metrics, res.Windows, svc.Name, time.Now().Add(time.Until(deadline)*9/10))
		}
		failed := len(res.Metrics) > 0
		for _, ev := range res.Metrics {
			failed = failed && ev.Now == nil
		}
		if failed {
			f.outcome = Failed
		}
		return f
	}}}
}

// renderGraphs draws the windows at once and keeps the graphs drawn by until; a graph that
// fails or comes late is left out (the evidence says HasGraph false), the query is not failed.
func (e *Enricher) renderGraphs(f *metricsFinding, windows []promquery.Window, service string, until time.Time) {
	type drawn struct {
		name string
		png  []byte
	}
	// Buffered for all: a drawing that comes late still ends, and is dropped.
	out := make(chan drawn, len(windows))
	for _, w := range windows {
		spec := graph.Spec{Title: w.Name + " · " + service, Unit: w.Unit, Points: w.Points, Threshold: w.Threshold, Marker: w.Start}
		go func() {
			defer func() {
				if v := recover(); v != nil {
					e.log.Warn("graph renderer panicked", "graph", spec.Title, "panic", v)
					out <- drawn{name: w.Name}
				}
			}()
			png, err := e.o.RenderGraph(spec)
			if err != nil {
				e.log.Warn("graph not drawn", "graph", spec.Title, "err", err)
			}
			out <- drawn{w.Name, png}
		}()
	}
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	got := map[string][]byte{}
wait:
	for range windows {
		select {
		case d := <-out:
			if len(d.png) > 0 {
				got[d.name] = d.png
			}
		case <-timer.C:
			break wait
		}
	}
	for i := range f.evidence {
		ev := &f.evidence[i]
		if png, ok := got[ev.Name]; ok {
			ev.HasGraph = true
			f.graphs = append(f.graphs, triaged.Graph{Name: ev.Name, PNG: png})
		}
	}
}
