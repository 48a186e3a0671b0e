package app

import (
	"github.com/triaged/triaged/config"
	"github.com/triaged/triaged/promquery"
)

// prometheusServers builds the clients of the query APIs the config names: the one under
// `prometheus:` and the services' own; nil when none is configured.
func prometheusServers(cfg *config.Config) (*promquery.Servers, error) {
	own := map[string]*promquery.Server{}
	for _, s := range cfg.Services {
		if s.Prometheus != nil {
			own[s.Name] = s.Prometheus
		}
	}
	if !cfg.Prometheus.Enabled() && len(own) == 0 {
		return nil, nil
	}
	return promquery.NewServers(cfg.Prometheus, own)
}

// reloadPrometheus builds the clients anew, so that what they read once (TLS files, a proxy's
// settings) is read again; on error the clients in force stay.
func (a *App) reloadPrometheus() error {
	s, err := prometheusServers(a.cfg)
	if err != nil {
		return err
	}
	a.enricher.SetPrometheus(s)
	return nil
}
