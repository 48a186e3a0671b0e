package ui

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics registers the incidents pages' metrics: the index's size and what its bound
// dropped, and the live updates' browsers, refused and cut off.
func RegisterMetrics(reg prometheus.Registerer, x *Index, h *Hub) {
	if reg == nil {
		return
	}
	if x != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "triaged_ui_incidents_indexed",
				Help: "Incidents the web UI's incidents page keeps in memory (ui.max_incidents bounds them).",
			}, func() float64 {
				x.mu.RLock()
				defer x.mu.RUnlock()
				return float64(len(x.byID))
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "triaged_ui_incidents_evicted_total",
				Help: "Incidents the web UI's index left out to stay within ui.max_incidents.",
			}, func() float64 {
				x.mu.RLock()
				defer x.mu.RUnlock()
				return float64(x.evicted)
			}),
		)
	}
	if h != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "triaged_ui_live_clients",
				Help: "Browsers following the web UI's live updates.",
			}, func() float64 { return float64(h.Clients()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "triaged_ui_live_refused_total",
				Help: "Browsers refused live updates: ui.max_live_clients were connected, or triaged was shutting down.",
			}, func() float64 { return float64(h.refused.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "triaged_ui_live_cut_total",
				Help: "Browsers cut off for falling too far behind the live updates (they reconnect by themselves).",
			}, func() float64 { return float64(h.cut.Load()) }),
		)
	}
}
