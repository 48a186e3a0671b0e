package app

import (
	"github.com/prometheus/common/version"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/ui"
)

// webUI is the web UI, served on every path the API and the operational endpoints do not take.
func (a *App) webUI() (*ui.UI, error) {
	o := ui.Options{
		Version: version.Version,
		Logger:  a.log.With("component", "ui"),

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
