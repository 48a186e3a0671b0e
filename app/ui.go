package app

import (
	"context"
	"net/url"
	"strings"

	"github.com/prometheus/common/version"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/ui"
)

// webUI is the web UI, served on every path the API and the operational endpoints do not take.
// Its incidents index and live updates run beside the workers; the live streams end when the
// HTTP server's shutdown begins, which would otherwise wait for them.
func (a *App) webUI() (*ui.UI, error) {
	log := a.log.With("component", "ui")
	// Each browser following the live updates holds a connection for as long as it is open:
	// left no room, Alertmanager's webhooks would wait behind them.
	liveClients := a.cfg.UI.MaxLiveClients
	if most := max(1, a.opts.MaxConnections/2); liveClients > most {
		log.Warn("ui.max_live_clients lowered to half of --web.max-connections, so webhooks always find a connection",
			"ui.max_live_clients", liveClients, "web.max_connections", a.opts.MaxConnections, "in_force", most)
		liveClients = most
	}
	index := ui.NewIndex(a.cfg.UI.MaxIncidents, a.cfg.NATS.IncidentsMaxAge.Std(), nil)
	events := ui.NewHub(index, ui.HubOptions{MaxClients: liveClients, Logger: log})
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
		Base:        a.uiBase(),

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

// uiBase is the path browsers reach triaged under: the external URL's, which a proxy may strip
// (--web.route-prefix=/), or else the route prefix.
func (a *App) uiBase() string {
	if u, err := url.Parse(a.opts.ExternalURL); err == nil && a.opts.ExternalURL != "" {
		return strings.TrimRight(u.Path, "/")
	}
	return a.opts.RoutePrefix
}
