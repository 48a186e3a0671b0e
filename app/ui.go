package app

import (
	"context"

	"github.com/prometheus/common/version"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/ui"
)

// webUI is the web UI, served on every path the API and the operational endpoints do not take.
// Its incidents index and live updates run beside the workers; the live streams end when the
// HTTP server's shutdown begins, which would otherwise wait for them.
func (a *App) webUI() (*ui.UI, error) {
	log := a.log.With("component", "ui")
	index := ui.NewIndex(a.cfg.UI.MaxIncidents, a.cfg.NATS.IncidentsMaxAge.Std(), nil)
	events := ui.NewHub(index, ui.HubOptions{MaxClients: a.cfg.UI.MaxLiveClients, Logger: log})
	a.server.RegisterOnShutdown(events.Close)
	ui.RegisterMetrics(a.registry, index, events)
	a.runners = append(a.runners,
		func(ctx context.Context) error {
			return index.Watch(ctx, a.topology.Incidents, a.topology.Deliveries, log)
		},
		func(ctx context.Context) error { return events.Run(ctx, a.topology.Reports) },
	)
	o := ui.Options{
		Version:     version.Version,
		Logger:      log,
		Index:       index,
		Events:      events,
		Incidents:   a.topology.Incidents,
		Reports:     a.topology.Reports,
		Postmortems: a.postmortems(),

		Rules:       a.rules,
		RuleTexts:   a.ruleTexts,
		Deploys:     a.deploys,
		DeadLetters: broker.NewDeadLetterStore(a.js, a.names),
		Status:      uiStatus{a},
	}
	if a.shadow != nil {
		o.Shadow = a.shadow
	}
	if a.cfg.NATS.HistoryEnabled() {
		o.RecentAlerts = recentAlerts{a}
	}
	if len(a.opts.AuthTokenFiles) > 0 {
		o.WriteAuth = ui.WriteAuthBearer
	}
	return ui.New(o)
}
