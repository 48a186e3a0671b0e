package route

import (
	"maps"

	"github.com/prometheus/common/model"

	"github.com/triaged/triaged"
)

// The labels routing adds from the report. They take precedence over alert labels of the same
// name: a matcher on severity sees the report's P1..P4, never the alert's own severity label
// (which an expr still reads as labels.severity).
const (
	LabelSeverity    = "severity"
	LabelEvent       = "event"
	LabelService     = "service"
	LabelEnvironment = "environment"
	LabelTeam        = "team"
)

// Env is everything a route's expr can see; its tags are the vocabulary.
type Env struct {
	// Severity is the report's: "P1".."P4".
	Severity string `expr:"severity"`
	// Event is what the report announces: "opened", "updated", "resolved" or "reopened".
	Event string `expr:"event"`
	// Service, Environment and Team are the report's (the catalog's, else the alert's labels').
	Service     string `expr:"service"`
	Environment string `expr:"environment"`
	Team        string `expr:"team"`
	// Channel is the service's channel in the catalog ("" when it names none).
	Channel   string `expr:"channel"`
	AlertName string `expr:"alertname"`
	// Labels and Annotations are the incident's lead alert's (the report's first alert: its most
	// severe firing one), as they are.
	Labels       map[string]string `expr:"labels"`
	Annotations  map[string]string `expr:"annotations"`
	AlertsFiring int               `expr:"alerts_firing"`
	Flapping     bool              `expr:"flapping"`
}

// input is one report as the routes see it, its label set and environment built once, on
// first use.
type input struct {
	rep  *triaged.Report
	lset model.LabelSet
	e    *Env
}

func (in *input) lead() *triaged.ReportAlert {
	if len(in.rep.Alerts) == 0 {
		return &triaged.ReportAlert{}
	}
	return &in.rep.Alerts[0]
}

func (in *input) labels() model.LabelSet {
	if in.lset == nil {
		in.lset = Labels(in.rep)
	}
	return in.lset
}

func (in *input) env() *Env {
	if in.e == nil {
		rep, a := in.rep, in.lead()
		in.e = &Env{
			Severity: rep.Severity.String(), Event: string(rep.Event),
			Service: rep.Service, Environment: rep.Environment, Team: rep.Team, Channel: rep.Channel,
			AlertName: rep.AlertName, Labels: a.Labels, Annotations: a.Annotations,
			AlertsFiring: rep.AlertsFiring, Flapping: rep.Flapping,
		}
		if in.e.Labels == nil {
			in.e.Labels = map[string]string{}
		}
		if in.e.Annotations == nil {
			in.e.Annotations = map[string]string{}
		}
	}
	return in.e
}

// Labels is the label set the matchers of the routes see for rep: the labels of its lead alert
// (the report's first alert: its most severe firing one), with severity, event, service,
// environment and team set to the report's values, even where those are empty.
func Labels(rep *triaged.Report) model.LabelSet {
	var alert map[string]string
	if len(rep.Alerts) > 0 {
		alert = rep.Alerts[0].Labels
	}
	ls := make(model.LabelSet, len(alert)+5)
	for k, v := range alert {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	maps.Copy(ls, model.LabelSet{
		LabelSeverity:    model.LabelValue(rep.Severity.String()),
		LabelEvent:       model.LabelValue(rep.Event),
		LabelService:     model.LabelValue(rep.Service),
		LabelEnvironment: model.LabelValue(rep.Environment),
		LabelTeam:        model.LabelValue(rep.Team),
	})
	return ls
}
