package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/triaged/triaged"
)

// ExplanationJSON is one alert's decision as `triagetool explain --output json` writes it (one
// object a line) and POST /api/v1/rules/explain answers it, so that tools read decisions without
// parsing the text form.
type ExplanationJSON struct {
	Alert       int                `json:"alert"` // 1-based position in the input
	AlertName   string             `json:"alertname"`
	Status      string             `json:"status"`
	Labels      map[string]string  `json:"labels"`
	Service     string             `json:"service"`
	Environment string             `json:"environment"`
	Severity    triaged.Severity   `json:"severity"`
	Rule        string             `json:"rule"` // the classification rule that decided; "default" when none did
	Reason      string             `json:"reason"`
	RuleSet     string             `json:"rule_set_version"`
	Decisions   []triaged.Decision `json:"decisions"`
	Tried       []TraceJSON        `json:"tried"`
}

// TraceJSON is one rule tried. Outcome is "matched", "not matched", "error" or "not tried";
// Reason says why: the rule's description when it matched, its condition when it did not, the
// error when it failed.
type TraceJSON struct {
	Stage    string           `json:"stage"`
	Rule     string           `json:"rule"`
	Pos      string           `json:"pos"`
	Outcome  string           `json:"outcome"`
	Matched  bool             `json:"matched"`
	Decided  bool             `json:"decided,omitempty"`
	Severity triaged.Severity `json:"severity,omitempty"`
	Reason   string           `json:"reason"`
}

// ExplainJSON explains alert a, the i-th (0-based) of its input, in its written form.
func (rs *RuleSet) ExplainJSON(a *triaged.Alert, svc triaged.Service, i int, now time.Time, opts ExplainOptions) ExplanationJSON {
	x := rs.Explain(a, svc, now, opts)
	rule := x.Classification.Rule
	if rule == "" {
		rule = DefaultRuleName
	}
	reason := ""
	if len(x.Classification.Decisions) > 0 {
		reason = x.Classification.Decisions[0].Reason
	}
	out := ExplanationJSON{
		Alert: i + 1, AlertName: x.Env.AlertName, Status: x.Env.Status, Labels: x.Env.Labels,
		Service: x.Env.Service, Environment: x.Env.Environment,
		Severity: x.Final.Severity, Rule: rule, Reason: reason, RuleSet: x.Final.RuleSetVersion,
		Decisions: x.Final.Decisions, Tried: make([]TraceJSON, 0, len(x.Traces)),
	}
	for _, t := range x.Traces {
		tj := TraceJSON{
			Stage: string(t.Stage), Rule: t.Rule, Pos: t.Pos.String(), Outcome: t.Outcome.String(),
			Matched: t.Outcome == Matched, Decided: t.Decided,
		}
		switch t.Outcome {
		case Matched:
			tj.Severity, tj.Reason = t.Severity, t.Reason
		case NotMatched:
			tj.Reason = "condition false: " + t.When
		case Failed:
			tj.Reason = t.Err.Error()
		case NotTried:
			tj.Reason = "an earlier rule decided (first match wins)"
		}
		out.Tried = append(out.Tried, tj)
	}
	return out
}

// DecodeAlerts reads the alerts to explain from what people have at hand: an Alertmanager
// webhook payload (an object with "alerts"), a list of alerts (as Alertmanager's API lists
// them), or a single alert. An alert without a status is taken as firing. Errors say where in
// data (line and column).
func DecodeAlerts(data []byte) ([]triaged.Alert, error) {
	data = bytes.TrimSpace(data)
	var alerts []triaged.Alert
	switch {
	case len(data) == 0:
		return nil, errors.New("empty input: want a JSON alert, list of alerts or webhook payload")
	case data[0] == '[':
		if err := json.Unmarshal(data, &alerts); err != nil {
			return nil, invalidJSON(data, err)
		}
	default:
		var probe struct {
			Alerts json.RawMessage `json:"alerts"`
		}
		if err := json.Unmarshal(data, &probe); err != nil {
			return nil, invalidJSON(data, err)
		}
		if probe.Alerts == nil {
			var a triaged.Alert
			if err := json.Unmarshal(data, &a); err != nil {
				return nil, invalidJSON(data, err)
			}
			alerts = append(alerts, a)
			break
		}
		var w triaged.Webhook
		if err := json.Unmarshal(data, &w); err != nil {
			return nil, invalidJSON(data, err)
		}
		alerts = WebhookAlerts(&w)
	}
	if len(alerts) == 0 {
		return nil, errors.New("no alerts in the input")
	}
	for i := range alerts {
		FillStatus(&alerts[i])
	}
	return alerts, nil
}

// WebhookAlerts are a webhook's alerts, each with the group context the rules see. Unlike
// triaged.DecodeWebhook it does not validate: explaining takes hand-written webhooks that the
// daemon would refuse (no version, no status).
func WebhookAlerts(w *triaged.Webhook) []triaged.Alert {
	return w.Batch(time.Time{}).Split()
}

// FillStatus takes an alert written without a status as firing, as hand-written ones are meant.
func FillStatus(a *triaged.Alert) {
	if a.Status == "" {
		a.Status = triaged.StatusFiring
	}
}

// invalidJSON is why an input does not decode, with its line and column.
func invalidJSON(data []byte, err error) error {
	return errors.New("invalid JSON: " + triaged.DescribeJSONError(data, err))
}
