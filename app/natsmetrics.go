package app

import "github.com/prometheus/client_golang/prometheus"

// registerNATSMetrics exports the state of the NATS connection, on which readiness and the
// webhook's 503 turn, so that "NATS disconnected" is one alert on one gauge.
func (a *App) registerNATSMetrics() {
	nc := a.nc
	a.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "triaged_nats_connected",
		Help: "1 while the NATS connection is up, 0 while it is lost or not made yet.",
	}, func() float64 {
		if nc.IsConnected() {
			return 1
		}
		return 0
	}))
}
