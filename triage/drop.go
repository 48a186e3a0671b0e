package triage

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged"
)

func newDroppedCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	return promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "triaged_alerts_dropped_total",
		Help: "Alerts a rule with drop: true dropped: acknowledged, never part of an incident, never reported.",
	}, []string{"rule"})
}

// undropped is the classification of an incident's representative alert that a rule drops: the
// rules changed since it joined (a dropped alert never joins), and the incident keeps the
// severity it has, P4 if none.
func undropped(c triaged.Classification, inc *triaged.Incident) triaged.Classification {
	if !c.Dropped {
		return c
	}
	c.Dropped, c.Severity = false, triaged.P4
	if inc.Severity.Valid() {
		c.Severity = inc.Severity
	}
	return c
}
