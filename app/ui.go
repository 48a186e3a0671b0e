package app

import (
	"github.com/prometheus/common/version"

	"github.com/triaged/triaged/ui"
)

// webUI is the web UI, served on every path the API and the operational endpoints do not take.
func (a *App) webUI() (*ui.UI, error) {
	return ui.New(ui.Options{
		Version: version.Version,
		Logger:  a.log.With("component", "ui"),
	})
}
