package rules

import (
	"bytes"
	"encoding/json"
	"math"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/exprpolicy"
)

// Outcome is what happened when a rule was tried on an alert.
type Outcome int

const (
	// NotMatched: the condition was false.
	NotMatched Outcome = iota
	// Matched: the condition was true and the severity valid.
	Matched
	// Failed: the condition or the severity failed at run time; the rule was skipped.
	Failed
	// NotTried: an earlier classification rule had decided (first match wins).
	NotTried
)

func (o Outcome) String() string {
	switch o {
	case NotMatched:
		return "not matched"
	case Matched:
		return "matched"
	case Failed:
		return "error"
	default:
		return "not tried"
	}
}

// Trace is one rule tried on one alert.
type Trace struct {
	Stage   Stage
	Rule    string
	Pos     Position
	When    string
	Outcome Outcome
	// Severity is what a matched rule named.
	Severity triaged.Severity
	// Decided is set on the classification rule that decided and on each escalation rule that
	// applied.
	Decided bool
	Err     error
	// Reason is what a decision by this rule says: its description, or its name without one.
	Reason string
}

// ExplainOptions say what Explain evaluates beyond the classification.
type ExplainOptions struct {
	// Enrichment is handed to the escalation rules, as the daemon's enrichment would.
	Enrichment triaged.Enrichment
	// All tries every classification rule, also after the one that decided, to show which
	// other rules would match.
	All bool
}

// Explanation is how a rule set decided an alert's severity.
type Explanation struct {
	// Env is what the rules saw.
	Env *Env
	// Classification is the first stage's decision, Final the decision after escalation.
	Classification triaged.Classification
	Final          triaged.Classification
	// Traces lists the classification rules in order, then the escalation rules in order.
	Traces []Trace
}

// Explain evaluates an alert rule by rule and records what each rule did. It decides exactly as
// Classify and then Escalate do (a test holds it to that); it is slower, and meant for
// `triagetool explain`, not for the daemon's hot path.
func (rs *RuleSet) Explain(a *triaged.Alert, svc triaged.Service, now time.Time, opts ExplainOptions) Explanation {
	env := newEnv(a, svc, now)
	m := exprpolicy.Borrow()
	defer exprpolicy.Return(m)

	x := Explanation{Env: env, Traces: make([]Trace, 0, len(rs.rules)+len(rs.escalations))}
	var decided *rule
	var severity triaged.Severity
	for _, r := range rs.rules {
		t := Trace{Stage: StageClassify, Rule: r.name, Pos: r.pos, When: r.when.text, Reason: r.reason}
		if decided != nil && !opts.All {
			t.Outcome = NotTried
			x.Traces = append(x.Traces, t)
			continue
		}
		ok, err := r.evalCondition(m, env)
		if err == nil && ok {
			t.Severity, err = r.evalSeverity(m, env)
		}
		switch {
		case err != nil:
			t.Outcome, t.Err = Failed, err
		case !ok:
			t.Outcome = NotMatched
		default:
			t.Outcome = Matched
			if decided == nil {
				decided, severity, t.Decided = r, t.Severity, true
			}
		}
		x.Traces = append(x.Traces, t)
	}
	if decided != nil {
		x.Classification = rs.decide(decided, severity)
	} else {
		x.Classification = rs.defaultClassification()
	}

	c := rs.stampVersion(x.Classification)
	if len(rs.escalations) > 0 && !c.Dropped {
		eenv := newEscalationEnv(c, a, svc, opts.Enrichment, now)
		for _, r := range rs.escalations {
			t := Trace{Stage: StageEscalate, Rule: r.name, Pos: r.pos, When: r.when.text, Reason: r.reason}
			sev, ok, err := r.evalEscalation(m, eenv)
			switch {
			case err != nil:
				t.Outcome, t.Err = Failed, err
			case !ok:
				t.Outcome = NotMatched
			default:
				t.Outcome, t.Severity, t.Decided = Matched, sev, true
				c = r.apply(c, sev)
				eenv.Severity = c.Severity.String()
			}
			x.Traces = append(x.Traces, t)
		}
	}
	x.Final = c
	return x
}

// factsJSON is the written form of enrichment facts in rule unit tests and `triagetool explain
// --facts`: the report's field names for what escalation rules see.
type factsJSON struct {
	Changes        []triaged.Change         `json:"changes"`
	Probes         []triaged.Probe          `json:"probes"`
	Logs           []triaged.LogTail        `json:"logs"`
	Metrics        []triaged.MetricEvidence `json:"metrics"`
	MeasuredImpact *triaged.MeasuredImpact  `json:"measured_impact"`
}

// DecodeFacts reads enrichment facts written as JSON ({"changes": [...], "probes": [...],
// "logs": [...], "metrics": [...], "measured_impact": {...}}, with the report's field names),
// strictly: an unknown field is an error. The error is the JSON decoder's, so callers can place
// it in the input. A metric's change_percent, when not given, is computed from its now and
// before as the enricher computes it.
func DecodeFacts(data []byte) (triaged.Enrichment, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f factsJSON
	if err := dec.Decode(&f); err != nil {
		return triaged.Enrichment{}, err
	}
	for i := range f.Metrics {
		m := &f.Metrics[i]
		if m.ChangePercent == nil && m.Now != nil && m.Before != nil && *m.Before != 0 {
			change := (*m.Now - *m.Before) / math.Abs(*m.Before) * 100
			m.ChangePercent = &change
		}
	}
	return triaged.Enrichment{Changes: f.Changes, Probes: f.Probes, Logs: f.Logs, Metrics: f.Metrics, MeasuredImpact: f.MeasuredImpact}, nil
}
