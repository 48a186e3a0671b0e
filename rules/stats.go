package rules

import (
	"sync/atomic"
	"time"
)

// matchStats counts what one compiled rule decided: lock-free, so that counting costs the hot
// path two atomic operations. They belong to the rule set in force: a reload that installs a new
// rule set starts from zero, since its rules are other rules even when they have the same names.
type matchStats struct {
	matches atomic.Uint64
	last    atomic.Int64 // Unix nanoseconds of the latest evaluation time counted; 0: never
}

func (s *matchStats) count(now time.Time) {
	s.matches.Add(1)
	t := now.UnixNano()
	// The latest wins even when workers count out of order.
	for {
		old := s.last.Load()
		if t <= old || s.last.CompareAndSwap(old, t) {
			return
		}
	}
}

func (s *matchStats) snapshot() (uint64, time.Time) {
	n := s.matches.Load()
	if ns := s.last.Load(); ns != 0 {
		return n, time.Unix(0, ns).UTC()
	}
	return n, time.Time{}
}

// ruleSetStats are the match counts of one installed rule set, by position: one per
// classification rule plus one for the default, one per escalation rule. Counting by position
// rather than by name keeps two rules of the same name (lint warns about them) apart.
type ruleSetStats struct {
	classify []matchStats // len(rules)+1: the last is the default
	escalate []matchStats
}

func newRuleSetStats(rs *RuleSet) *ruleSetStats {
	return &ruleSetStats{
		classify: make([]matchStats, len(rs.rules)+1),
		escalate: make([]matchStats, len(rs.escalations)),
	}
}

// RuleStatus is one rule of the rule set in force with what it decided since that rule set was
// installed: a classification rule counts every alert it decided (first match), an escalation
// rule every alert it applied to, whether or not it raised the severity, as
// triaged_rule_matches_total counts them. Classify runs once per arrival of an alert and again
// when its incident is investigated, so an alert may be counted more than once, as in that metric.
type RuleStatus struct {
	RuleInfo
	Matches uint64
	// LastMatch is the evaluation time of the latest match, in UTC; zero when it never matched.
	LastMatch time.Time
}

// ReloadStatus is the outcome of the latest load of the rule files: at start, on SIGHUP,
// POST /-/reload or a change on disk.
type ReloadStatus struct {
	At time.Time
	// Err is why the latest load failed (the previous rules stayed in force); nil on success.
	Err error
}

// Status is the rule set in force and what it decided since it was installed.
type Status struct {
	Rules *RuleSet
	// Embedded: no rule file is configured; the built-in default.rules.yml is in force.
	Embedded bool
	// Classify and Escalate list the rules of each stage in evaluation order; Default counts the
	// alerts no classification rule decided.
	Classify []RuleStatus
	Escalate []RuleStatus
	Default  RuleStatus
	// Installed is when the rule set in force was loaded; the counts start there.
	Installed  time.Time
	LastReload ReloadStatus
}

// Status returns the rule set in force with its match counts and the latest reload's outcome.
// The counts are read while alerts may be counted, each one atomically.
func (e *Engine) Status() Status {
	cur := e.current.Load()
	st := Status{Rules: cur.rules, Embedded: len(e.files) == 0, Installed: cur.installed}
	if r := e.lastReload.Load(); r != nil {
		st.LastReload = *r
	}
	list := func(stage Stage, stats []matchStats) []RuleStatus {
		infos := cur.rules.Rules(stage)
		out := make([]RuleStatus, len(infos))
		for i, info := range infos {
			out[i].RuleInfo = info
			out[i].Matches, out[i].LastMatch = stats[i].snapshot()
		}
		return out
	}
	st.Classify = list(StageClassify, cur.stats.classify)
	st.Escalate = list(StageEscalate, cur.stats.escalate)
	st.Default = RuleStatus{RuleInfo: RuleInfo{Stage: StageClassify, Name: DefaultRuleName,
		Pos: cur.rules.defaultPos, Severity: cur.rules.defaultSeverity.String()}}
	st.Default.Matches, st.Default.LastMatch = cur.stats.classify[len(cur.rules.rules)].snapshot()
	return st
}

// recordReload remembers the outcome of a load for Status.
func (e *Engine) recordReload(err error) {
	e.lastReload.Store(&ReloadStatus{At: time.Now().UTC(), Err: err})
}
