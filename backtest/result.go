package backtest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// Result is the difference between the baseline and the candidate over the history replayed.
type Result struct {
	Baseline  RuleSetInfo `json:"baseline"`
	Candidate RuleSetInfo `json:"candidate"`
	// First and Last are the earliest and the latest evaluation time of the records read.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Alerts were classified; Openings classified and escalated over their stored evidence.
	Alerts   int `json:"alerts"`
	Openings int `json:"openings"`
	// OpeningsWithoutEvidence could not be escalated (no evidence stored); Undecodable records
	// were skipped; UnknownKinds are records of a kind this build does not know.
	OpeningsWithoutEvidence int  `json:"openings_without_evidence"`
	Undecodable             int  `json:"undecodable"`
	UnknownKinds            int  `json:"unknown_kinds"`
	Truncated               bool `json:"truncated,omitempty"`
	// Changed records get another severity (or are dropped, or no longer dropped); RuleChanged
	// keep their severity but another rule decides them.
	Changed     int `json:"changed"`
	RuleChanged int `json:"rule_changed"`
	// Classification is the alerts' transition matrix, Escalation the openings'; each lists every
	// non-empty cell, the unchanged (diagonal) ones included.
	Classification []Transition `json:"classification"`
	Escalation     []Transition `json:"escalation"`
	// Alertnames and Services are the changes per alertname and per service, most changes first.
	Alertnames []KeyChanges `json:"alertnames"`
	Services   []KeyChanges `json:"services"`
	Incidents  Incidents    `json:"incidents"`
	LeftOut    LeftOut      `json:"left_out"`
}

// RuleSetInfo names a rule set.
type RuleSetInfo struct {
	Version string   `json:"version"`
	Files   []string `json:"files"`
}

// Transition is a cell of a transition matrix: Count records went From one severity To another
// ("dropped" for an alert a drop rule decided).
type Transition struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

// KeyChanges are the changes of the records of one alertname or service.
type KeyChanges struct {
	Name        string       `json:"name"`
	Changed     int          `json:"changed"`
	RuleChanged int          `json:"rule_changed"`
	Transitions []Transition `json:"transitions"`
	// Rules says which rule decides now, and which did: every pair that differs, with its count.
	Rules    []RuleChange `json:"rules"`
	Examples []Example    `json:"examples"`
}

// RuleChange counts records that Before decided and After decides now.
type RuleChange struct {
	Before string `json:"before"`
	After  string `json:"after"`
	Count  int    `json:"count"`
}

// Example is one changed record, with enough to find it again.
type Example struct {
	Stage       string    `json:"stage"`
	At          time.Time `json:"at"`
	Fingerprint string    `json:"fingerprint"`
	Group       string    `json:"group"`
	// Labels are the alert's labels, sorted, cut to MaxExampleLabels bytes.
	Labels     string `json:"labels"`
	From       string `json:"from"`
	To         string `json:"to"`
	RuleBefore string `json:"rule_before"`
	RuleAfter  string `json:"rule_after"`
}

// MaxExampleLabels bounds an example's labels, so a long label cannot flood the output.
const MaxExampleLabels = 160

// Incidents are the incidents (records sharing a history group) whose highest severity changes.
type Incidents struct {
	Tracked int `json:"tracked"`
	Changed int `json:"changed"`
	// PagesAdded incidents reach P1 or P2 under the candidate only, PagesRemoved under the
	// baseline only.
	PagesAdded   int              `json:"pages_added"`
	PagesRemoved int              `json:"pages_removed"`
	List         []IncidentChange `json:"list"`
}

// IncidentChange is one incident whose highest severity changes.
type IncidentChange struct {
	Group     string `json:"group"`
	Alertname string `json:"alertname"`
	Service   string `json:"service"`
	From      string `json:"from"`
	To        string `json:"to"`
	// Page is "added" or "removed" when the change crosses into or out of P1/P2.
	Page string `json:"page,omitempty"`
}

// LeftOut counts what the bounds left out: changed records of alertnames and services beyond
// Options.Keys, records of incidents beyond Options.Incidents, changed incidents not listed.
type LeftOut struct {
	Alertnames int `json:"alertnames"`
	Services   int `json:"services"`
	Incidents  int `json:"incidents"`
	Listed     int `json:"listed"`
}

// HasChanges says whether the candidate decides anything differently from the baseline.
func (r *Result) HasChanges() bool { return r.Changed > 0 || r.RuleChanged > 0 }

// sevIndex maps a severity to a matrix row: P1..P4 to 0..3, dropped (0) to 4.
func sevIndex(s triaged.Severity) int {
	if s.Valid() {
		return int(s) - 1
	}
	return 4
}

func sevFromIndex(i int) triaged.Severity {
	if i == 4 {
		return 0
	}
	return triaged.Severity(i + 1)
}

type matrix [5][5]int

func (m *matrix) transitions(diagonal bool) []Transition {
	list := []Transition{}
	for i := range m {
		for j := range m[i] {
			if m[i][j] > 0 && (diagonal || i != j) {
				list = append(list, Transition{SeverityName(sevFromIndex(i)), SeverityName(sevFromIndex(j)), m[i][j]})
			}
		}
	}
	return list
}

// keyAgg gathers the changes of one alertname or service.
type keyAgg struct {
	changed, ruleChanged int
	m                    matrix
	rules                map[[2]string]int
	examples             []example
}

type example struct {
	seq int
	Example
}

func (k *keyAgg) add(oc *outcome, limit int) {
	if oc.before.sev != oc.after.sev {
		k.changed++
		k.m[sevIndex(oc.before.sev)][sevIndex(oc.after.sev)]++
	} else {
		k.ruleChanged++
	}
	if oc.before.rule != oc.after.rule {
		k.rules[[2]string{oc.before.rule, oc.after.rule}]++
	}
	// The earliest records are the examples, whatever order the workers finished in.
	if len(k.examples) == limit && oc.seq > k.examples[limit-1].seq {
		return
	}
	ex := example{oc.seq, makeExample(oc)}
	i, _ := slices.BinarySearchFunc(k.examples, oc.seq, func(e example, s int) int { return cmp.Compare(e.seq, s) })
	k.examples = slices.Insert(k.examples, i, ex)
	if len(k.examples) > limit {
		k.examples = k.examples[:limit]
	}
}

func (k *keyAgg) result(name string) KeyChanges {
	kc := KeyChanges{Name: name, Changed: k.changed, RuleChanged: k.ruleChanged, Transitions: k.m.transitions(false), Rules: []RuleChange{}}
	for pair, n := range k.rules {
		kc.Rules = append(kc.Rules, RuleChange{pair[0], pair[1], n})
	}
	slices.SortFunc(kc.Rules, func(a, b RuleChange) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Before, b.Before), cmp.Compare(a.After, b.After))
	})
	for _, e := range k.examples {
		kc.Examples = append(kc.Examples, e.Example)
	}
	return kc
}

func makeExample(oc *outcome) Example {
	a := &oc.rec.Alert
	return Example{
		Stage: oc.stage, At: oc.rec.At, Fingerprint: a.Fingerprint, Group: oc.rec.Group,
		Labels: formatLabels(a.Labels, MaxExampleLabels),
		From:   SeverityName(oc.before.sev), To: SeverityName(oc.after.sev),
		RuleBefore: oc.before.rule, RuleAfter: oc.after.rule,
	}
}

// formatLabels prints labels as Prometheus does, sorted, cut to max bytes on a rune boundary.
func formatLabels(labels map[string]string, max int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	s := b.String()
	if len(s) <= max {
		return s
	}
	for max > 0 && s[max]&0xC0 == 0x80 {
		max--
	}
	return s[:max] + "…"
}

// sortKeys orders per-key changes most changes first, then by name.
func sortKeys(m map[string]*keyAgg) []KeyChanges {
	list := make([]KeyChanges, 0, len(m))
	for name, k := range m {
		list = append(list, k.result(name))
	}
	slices.SortFunc(list, func(a, b KeyChanges) int {
		return cmp.Or(cmp.Compare(b.Changed+b.RuleChanged, a.Changed+a.RuleChanged), cmp.Compare(a.Name, b.Name))
	})
	return list
}

// String is the transition as the summary prints it: "P3→P2: 12".
func (t Transition) String() string { return fmt.Sprintf("%s→%s: %d", t.From, t.To, t.Count) }
