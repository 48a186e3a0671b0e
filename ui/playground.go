package ui

import (
	"context"
	"net/http"
	"time"
)

// RuleText is one rule file's text, which the playground offers to edit; Err says why it could
// not be read.
type RuleText struct{ Name, Text, Err string }

// RecentAlertsSource gives the latest alerts triage handled, newest first, at most limit, for
// the playground to start from.
type RecentAlertsSource interface {
	RecentAlerts(ctx context.Context, limit int) ([]RecentAlert, error)
}

// RecentAlert is an alert as triage handled it.
type RecentAlert struct {
	At                                   time.Time
	AlertName, Status, Service, Severity string
	// JSON is the alert as Alertmanager's webhook carries it: what the playground explains.
	JSON string
}

// recentShown is how many recent alerts the playground offers.
const recentShown = 20

// WriteAuthBearer is Options.WriteAuth when the write endpoints take bearer tokens.
const WriteAuthBearer = "bearer"

// exampleAlert starts the playground when no recent alert is at hand.
const exampleAlert = `{
  "status": "firing",
  "labels": {
    "alertname": "HighErrorRate",
    "service": "checkout",
    "env": "prod",
    "severity": "critical"
  },
  "annotations": {
    "summary": "5% of checkout requests fail"
  },
  "startsAt": "2026-11-26T15:00:00Z"
}`

type playgroundData struct {
	Texts      []RuleText
	Recent     []RecentAlert
	RecentErr  string
	NoRecent   bool // no source of recent alerts
	Example    string
	BearerAuth bool
}

func (u *UI) playgroundPage(w http.ResponseWriter, r *http.Request) {
	d := playgroundData{Example: exampleAlert, BearerAuth: u.opts.WriteAuth == WriteAuthBearer}
	if u.opts.RuleTexts != nil {
		d.Texts = u.opts.RuleTexts()
	}
	if src := u.opts.RecentAlerts; src == nil {
		d.NoRecent = true
	} else {
		recent, err := boundedErr(r.Context(), u.opts.ReadTimeout, func(ctx context.Context) ([]RecentAlert, error) {
			return src.RecentAlerts(ctx, recentShown)
		})
		if err != nil {
			d.RecentErr = err.Error()
		}
		d.Recent = recent
		if len(recent) > 0 {
			d.Example = recent[0].JSON
		}
	}
	u.render(w, r, "playground", "Playground · triaged", d)
}
