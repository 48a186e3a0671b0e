package ui

import (
	"net/http"

	"github.com/triaged/triaged/rules"
)

// RulesSource is the rules in force: *rules.Engine, as GET /api/v1/rules reads it.
type RulesSource interface {
	Status() rules.Status
}

// ShadowSource is the shadow rule set, as GET /api/v1/rules/shadow reads it; nil when none runs.
type ShadowSource interface {
	Status(limit int) rules.ShadowStatus
}

// shadowShown is how many of the latest disagreements the rules page lists; the API has all.
const shadowShown = 50

type rulesData struct {
	Status             *rules.Status
	Classify, Escalate ruleTable
	Shadow             *rules.ShadowStatus
	Warnings           []string
}

// ruleTable is a stage's rules; Default, for the classification stage, is the row of the
// alerts no rule decided.
type ruleTable struct {
	Rules   []numbered
	Default *rules.RuleStatus
}

// numbered is a rule with its 1-based place in its stage's evaluation order.
type numbered struct {
	N int
	rules.RuleStatus
}

func numberRules(list []rules.RuleStatus) []numbered {
	out := make([]numbered, len(list))
	for i, r := range list {
		out[i] = numbered{i + 1, r}
	}
	return out
}

// rulesSummary is the rules in force as the status page names them: version and last reload.
type rulesSummary struct {
	Version    string
	Embedded   bool
	Files      []string
	LastReload rules.ReloadStatus
}

func (u *UI) rulesSummary() *rulesSummary {
	if u.opts.Rules == nil {
		return nil
	}
	st := u.opts.Rules.Status()
	return &rulesSummary{Version: st.Rules.Version(), Embedded: st.Embedded, Files: st.Rules.Files(), LastReload: st.LastReload}
}

func (u *UI) rulesPage(w http.ResponseWriter, r *http.Request) {
	var d rulesData
	if u.opts.Rules != nil {
		st := u.opts.Rules.Status()
		d.Status = &st
		d.Classify = ruleTable{Rules: numberRules(st.Classify), Default: &st.Default}
		d.Escalate = ruleTable{Rules: numberRules(st.Escalate)}
		for _, warn := range st.Rules.Warnings() {
			d.Warnings = append(d.Warnings, warn.String())
		}
	}
	if u.opts.Shadow != nil {
		sh := u.opts.Shadow.Status(shadowShown)
		d.Shadow = &sh
	}
	u.render(w, r, "rules", "Rules · triaged", d)
}
