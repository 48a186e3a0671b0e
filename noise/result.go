package noise

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// Result is the noise report: alertnames, severity rules and services, noisiest first.
type Result struct {
	// From and To are the window measured; Days its length, by which the per-day figures divide.
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Days       float64   `json:"days"`
	Reports    int       `json:"reports"`
	Incidents  int       `json:"incidents"`
	AlertNames []Row     `json:"alertnames"`
	Rules      []Row     `json:"rules"`
	Services   []Row     `json:"services"`
}

// Row is the measures of one alertname, rule or service. See README.md, "Noise report".
type Row struct {
	Name          string  `json:"name"`
	Score         float64 `json:"score"`
	Incidents     int     `json:"incidents"`
	Reports       int     `json:"reports"`
	ReportsPerDay float64 `json:"reports_per_day"`
	// Flaps counts resolve/refire cycles.
	Flaps int `json:"flaps"`
	// AutoResolved counts the incidents resolved within Options.QuickWithin of their start.
	AutoResolved      int     `json:"auto_resolved"`
	AutoResolvedShare float64 `json:"auto_resolved_share"`
	// Paged counts the P1 and P2 incidents; PagedForNothing those of them that resolved before
	// their severity's response time had passed.
	Paged           int `json:"paged"`
	PagedForNothing int `json:"paged_for_nothing"`
	// Repeats counts incidents opened within Options.RepeatWithin of the end of their group's
	// previous incident.
	Repeats     int          `json:"repeats"`
	Suggestions []Suggestion `json:"suggestions"`
}

// Suggestion is one change to consider, with the numbers behind it.
type Suggestion struct {
	// Kind is "for", "keep_firing_for", "severity" or "inhibit".
	Kind string `json:"kind"`
	// Change is what to set: "for: 1m", "keep_firing_for: 2m", `rule "probe-page": P3`, an
	// inhibit rule.
	Change string `json:"change"`
	// Why gives the numbers.
	Why string `json:"why"`
}

func (s Suggestion) String() string { return s.Change + " (" + s.Why + ")" }

// Names of what has none in a report.
const (
	DefaultRule    = "(default)"
	UnknownService = "(unknown)"
)

// Result measures the incidents over the window from..to: the per-day figures divide by its
// length (at least an hour).
func (a *Analyzer) Result(from, to time.Time) Result {
	a.markRepeats()
	a.markCofiring()
	days := max(to.Sub(from), time.Hour).Hours() / 24
	return Result{
		From: from.UTC(), To: to.UTC(), Days: round(days), Reports: a.reports, Incidents: len(a.order),
		AlertNames: a.rows(days, func(inc *incident) string { return inc.alertName }),
		Rules:      a.rows(days, func(inc *incident) string { return cmp.Or(inc.rule, DefaultRule) }),
		Services:   a.rows(days, func(inc *incident) string { return cmp.Or(inc.service, UnknownService) }),
	}
}

// rows measures the incidents grouped by key, noisiest first.
func (a *Analyzer) rows(days float64, key func(*incident) string) []Row {
	groups := map[string][]*incident{}
	for _, inc := range a.order {
		k := key(inc)
		groups[k] = append(groups[k], inc)
	}
	rows := make([]Row, 0, len(groups))
	for name, incs := range groups {
		rows = append(rows, a.row(name, incs, days))
	}
	slices.SortFunc(rows, func(x, y Row) int {
		return cmp.Or(cmp.Compare(y.Score, x.Score), cmp.Compare(y.Incidents, x.Incidents), cmp.Compare(x.Name, y.Name))
	})
	return rows
}

func (a *Analyzer) row(name string, incs []*incident, days float64) Row {
	r := Row{Name: name, Incidents: len(incs), Suggestions: []Suggestion{}}
	for _, inc := range incs {
		r.Reports += inc.reports
		r.Flaps += inc.flaps
		if d, ok := inc.duration(); ok && d <= a.opts.QuickWithin {
			r.AutoResolved++
		}
		if inc.severity == triaged.P1 || inc.severity == triaged.P2 {
			r.Paged++
			if pagedForNothing(inc) {
				r.PagedForNothing++
			}
		}
		if inc.repeat {
			r.Repeats++
		}
	}
	r.ReportsPerDay = round(float64(r.Reports) / days)
	r.AutoResolvedShare = round(float64(r.AutoResolved) / float64(r.Incidents))
	// Each counts something that interrupted someone and told them nothing they had to act on; a
	// page for nothing interrupted twice: it woke someone up.
	r.Score = round(float64(r.Reports+r.Flaps+r.AutoResolved+2*r.PagedForNothing+r.Repeats) / days)
	for _, s := range []*Suggestion{a.keepFiringFor(r, incs), a.forDuration(r, incs), a.lowerSeverity(r, incs), a.inhibit(r, incs)} {
		if s != nil {
			r.Suggestions = append(r.Suggestions, *s)
		}
	}
	return r
}

func pagedForNothing(inc *incident) bool {
	d, ok := inc.duration()
	return ok && d < inc.severity.ResponseTime()
}

// keepFiringFor: an alert that resolves and fires again keeps firing over the gap instead.
func (a *Analyzer) keepFiringFor(r Row, incs []*incident) *Suggestion {
	if r.Flaps < 2 {
		return nil
	}
	var gaps []time.Duration
	advice := ""
	for _, inc := range incs {
		gaps = append(gaps, inc.gaps...)
		advice = cmp.Or(advice, inc.adviceKeep)
	}
	cycles := fmt.Sprintf("%d resolve/refire cycles in %d %s", r.Flaps, r.Incidents, plural(r.Incidents, "incident", "incidents"))
	switch {
	case len(gaps) > 0:
		p90 := percentile(gaps, 0.9)
		return &Suggestion{Kind: "keep_firing_for", Change: "keep_firing_for: " + minuteAbove(p90),
			Why: fmt.Sprintf("%s; 90%% of the %d measured gaps from resolution to refiring were %s or less", cycles, len(gaps), short(p90))}
	case advice != "":
		return &Suggestion{Kind: "keep_firing_for", Change: "keep_firing_for: " + advice,
			Why: cycles + "; gaps not reported, the figure is triaged's flapping advice"}
	}
	return &Suggestion{Kind: "keep_firing_for", Change: "keep_firing_for: (longer than the gaps)", Why: cycles + "; no gap from resolution to refiring was reported"}
}

// forDuration: an alert that mostly resolves on its own within minutes should wait longer
// before it fires.
func (a *Analyzer) forDuration(r Row, incs []*incident) *Suggestion {
	if r.Incidents < a.opts.MinIncidents || 2*r.AutoResolved < r.Incidents {
		return nil
	}
	var quick []time.Duration
	for _, inc := range incs {
		if d, ok := inc.duration(); ok && d <= a.opts.QuickWithin {
			quick = append(quick, d)
		}
	}
	p90 := percentile(quick, 0.9)
	return &Suggestion{Kind: "for", Change: "for: " + minuteAbove(p90),
		Why: fmt.Sprintf("%d of %d incidents resolved on their own within %s, 90%% of those within %s; on top of the for: its alerting rule has now",
			r.AutoResolved, r.Incidents, short(a.opts.QuickWithin), short(p90))}
}

// lowerSeverity: pages that are over before anyone must respond should not page.
func (a *Analyzer) lowerSeverity(r Row, incs []*incident) *Suggestion {
	if r.PagedForNothing < 2 || 2*r.PagedForNothing < r.Paged {
		return nil
	}
	var durations []time.Duration
	rules := map[string]int{}
	sev := triaged.P2
	for _, inc := range incs {
		if (inc.severity == triaged.P1 || inc.severity == triaged.P2) && pagedForNothing(inc) {
			d, _ := inc.duration()
			durations = append(durations, d)
			rules[inc.rule]++
			sev = min(sev, inc.severity)
		}
	}
	rule := mostCommon(rules)
	who := fmt.Sprintf("rule %q", rule)
	if rule == "" {
		who = "the rule set's default severity"
	}
	return &Suggestion{Kind: "severity", Change: fmt.Sprintf("%s: %s instead of %s", who, sev+1, sev),
		Why: fmt.Sprintf("%d of %d P1/P2 incidents resolved before their response time (%s: %s), 90%% within %s",
			r.PagedForNothing, r.Paged, sev, sev.ResponseTimeText(), short(percentile(durations, 0.9)))}
}

// inhibit: an alert that repeatedly fires while another alert of its service fires is a symptom
// of it, for Alertmanager to inhibit.
func (a *Analyzer) inhibit(r Row, incs []*incident) *Suggestion {
	type pair struct{ target, source string }
	counts := map[pair]int{}
	equal := map[pair]map[string]string{} // the labels every such target and source shared
	for _, inc := range incs {
		seen := map[string]bool{}
		for _, src := range inc.cofiring {
			p := pair{inc.alertName, src.alertName}
			if !seen[src.alertName] {
				seen[src.alertName] = true
				counts[p]++
			}
			if equal[p] == nil {
				equal[p] = maps.Clone(inc.labels)
			}
			for k, v := range equal[p] {
				if src.labels[k] != v {
					delete(equal[p], k)
				}
			}
		}
	}
	var best pair
	n := 0
	for p, c := range counts {
		if c > n || c == n && p.target+"\x00"+p.source < best.target+"\x00"+best.source {
			best, n = p, c
		}
	}
	if n < 2 || 2*n < r.Incidents {
		return nil
	}
	targets := 0
	for _, inc := range incs {
		if inc.alertName == best.target {
			targets++
		}
	}
	eq := slices.Sorted(maps.Keys(equal[best]))
	return &Suggestion{Kind: "inhibit",
		Change: fmt.Sprintf("inhibit_rules: [{source_matchers: [alertname=%q], target_matchers: [alertname=%q], equal: [%s]}]", best.source, best.target, strings.Join(eq, ", ")),
		Why:    fmt.Sprintf("%d of %d %s incidents started while %s of the same service was firing", n, targets, best.target, best.source)}
}

// markRepeats marks each incident that opened within RepeatWithin of the end of its group's
// previous incident.
func (a *Analyzer) markRepeats() {
	last := map[string]*incident{}
	for _, inc := range a.byStart() {
		inc.repeat = false
		if prev := last[inc.group]; prev != nil && inc.start.Sub(prev.end()) <= a.opts.RepeatWithin {
			inc.repeat = true
		}
		last[inc.group] = inc
	}
}

// markCofiring finds, for each incident, the incidents of other alertnames of its service that
// were firing when it started, sweeping each service's incidents by start.
func (a *Analyzer) markCofiring() {
	active := map[string][]*incident{}
	for _, inc := range a.byStart() {
		inc.cofiring = nil
		if inc.service == "" {
			continue
		}
		live := active[inc.service][:0]
		for _, other := range active[inc.service] {
			if !other.firingAt(inc.start) {
				continue
			}
			live = append(live, other)
			if other.alertName != inc.alertName {
				inc.cofiring = append(inc.cofiring, other)
			}
		}
		active[inc.service] = append(live, inc)
	}
}

// byStart is the incidents by start, then by first report.
func (a *Analyzer) byStart() []*incident {
	s := slices.Clone(a.order)
	slices.SortStableFunc(s, func(x, y *incident) int { return x.start.Compare(y.start) })
	return s
}

// mostCommon is the key counted most often, the least of those when several are.
func mostCommon(counts map[string]int) string {
	best, n := "", -1
	for k, c := range counts {
		if c > n || c == n && k < best {
			best, n = k, c
		}
	}
	return best
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// round keeps two decimals, so the JSON and CSV say what the table does.
func round(f float64) float64 { return math.Round(f*100) / 100 }
