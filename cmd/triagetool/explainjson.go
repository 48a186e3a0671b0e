package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/rules"
)

// explainJSON is one alert's decision as `explain --output json` writes it, one object a line,
// so that tests and tooling read decisions without parsing the text form.
type explainJSON struct {
	Alert       int                `json:"alert"` // 1-based position in INPUT
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
	Tried       []traceJSON        `json:"tried"`
}

// traceJSON is one rule tried. Outcome is "matched", "not matched", "error" or "not tried";
// Reason says why: the rule's description when it matched, its condition when it did not, the
// error when it failed.
type traceJSON struct {
	Stage    string           `json:"stage"`
	Rule     string           `json:"rule"`
	Pos      string           `json:"pos"`
	Outcome  string           `json:"outcome"`
	Matched  bool             `json:"matched"`
	Decided  bool             `json:"decided,omitempty"`
	Severity triaged.Severity `json:"severity,omitempty"`
	Reason   string           `json:"reason"`
}

func writeExplanationJSON(w io.Writer, rs *rules.RuleSet, a *triaged.Alert, svc triaged.Service, i int, now time.Time, opts rules.ExplainOptions) error {
	x := rs.Explain(a, svc, now, opts)
	rule := x.Classification.Rule
	if rule == "" {
		rule = rules.DefaultRuleName
	}
	reason := ""
	if len(x.Classification.Decisions) > 0 {
		reason = x.Classification.Decisions[0].Reason
	}
	out := explainJSON{
		Alert: i + 1, AlertName: x.Env.AlertName, Status: x.Env.Status, Labels: x.Env.Labels,
		Service: x.Env.Service, Environment: x.Env.Environment,
		Severity: x.Final.Severity, Rule: rule, Reason: reason, RuleSet: x.Final.RuleSetVersion,
		Decisions: x.Final.Decisions, Tried: make([]traceJSON, 0, len(x.Traces)),
	}
	for _, t := range x.Traces {
		tj := traceJSON{
			Stage: string(t.Stage), Rule: t.Rule, Pos: t.Pos.String(), Outcome: t.Outcome.String(),
			Matched: t.Outcome == rules.Matched, Decided: t.Decided,
		}
		switch t.Outcome {
		case rules.Matched:
			tj.Severity, tj.Reason = t.Severity, t.Reason
		case rules.NotMatched:
			tj.Reason = "condition false: " + t.When
		case rules.Failed:
			tj.Reason = t.Err.Error()
		case rules.NotTried:
			tj.Reason = "an earlier rule decided (first match wins)"
		}
		out.Tried = append(out.Tried, tj)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
