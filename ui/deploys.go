package ui

import (
	"net/http"

	"github.com/triaged/triaged/deploy"
)

// DeploysSource is the deploy index: *deploy.Index.
type DeploysSource interface {
	Recent(maxSeries, perSeries int) []deploy.Series
	Ready() bool
}

// The deploys page's bounds: the services and environments deployed most recently, and each
// one's latest deploys.
const (
	deploySeriesShown = 200
	deploysPerSeries  = 10
)

type deploysData struct {
	Available bool
	Ready     bool
	Series    []deploy.Series
	PerSeries int
	MaxSeries int
}

func (u *UI) deploysPage(w http.ResponseWriter, r *http.Request) {
	d := deploysData{PerSeries: deploysPerSeries, MaxSeries: deploySeriesShown}
	if src := u.opts.Deploys; src != nil {
		d.Available, d.Ready = true, src.Ready()
		d.Series = src.Recent(deploySeriesShown, deploysPerSeries)
	}
	u.render(w, r, "deploys", "Deploys · triaged", d)
}
