// Package noise measures which alerts are noise from the incident reports triaged published, and
// says what to change (an alerting rule's for: or keep_firing_for:, an inhibit rule, a lower
// severity) with the numbers behind it.
//
// An Analyzer folds the reports, oldest first, into one small record per incident, so the
// reports themselves are not kept; Result then ranks alertnames, severity rules and services.
package noise

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// Options are the thresholds of the measures. The zero value of a field takes its default.
type Options struct {
	// QuickWithin: an incident resolved this soon after it started resolved on its own, as no
	// one responds that fast. Default 5m.
	QuickWithin time.Duration
	// RepeatWithin: an incident of a group that opens this soon after the group's previous
	// incident ended is a repeat. Default 24h.
	RepeatWithin time.Duration
	// MinIncidents is how many incidents a for: or severity suggestion needs. Default 3.
	MinIncidents int
}

func (o Options) withDefaults() Options {
	if o.QuickWithin <= 0 {
		o.QuickWithin = 5 * time.Minute
	}
	if o.RepeatWithin <= 0 {
		o.RepeatWithin = 24 * time.Hour
	}
	if o.MinIncidents <= 0 {
		o.MinIncidents = 3
	}
	return o
}

// Analyzer folds reports into incidents. It is not safe for concurrent use.
type Analyzer struct {
	opts      Options
	incidents map[string]*incident
	order     []*incident // by first report
	reports   int
}

// New returns an empty Analyzer.
func New(opts Options) *Analyzer {
	return &Analyzer{opts: opts.withDefaults(), incidents: map[string]*incident{}}
}

// Reports is how many reports were added.
func (a *Analyzer) Reports() int { return a.reports }

// Incidents is how many incidents the reports added so far belong to.
func (a *Analyzer) Incidents() int { return len(a.order) }

// incident is what the measures need of one incident, from its reports.
type incident struct {
	id, alertName, service, group string
	// severity is the most severe the incident was reported at, rule the rule that decided it.
	severity triaged.Severity
	rule     string
	start    time.Time
	// firstEnd is the end of its first resolution; lastEnd of its latest.
	firstEnd, lastEnd *time.Time
	reports           int
	// resolved: its latest report was a resolution; flappingNow: its latest report said flapping.
	resolved, flappingNow bool
	// flaps counts resolve/refire cycles; gaps are the measured times between a resolution and
	// the refiring after it.
	flaps int
	gaps  []time.Duration
	// adviceKeep is the keep_firing_for: triaged's flapping advice gave, when no gap could be
	// measured from the reports.
	adviceKeep string
	// labels are the labels all its alerts shared in its first report, for an inhibit rule's
	// equal:; set by Result: whether it repeated its group's previous incident, and the other
	// alertnames of its service that were firing when it started.
	labels   map[string]string
	repeat   bool
	cofiring []*incident
}

// The flapping notes triaged writes (triage/notes.go and triage/machine.go). While an
// incident flaps its edges are not reported; the note that ends the flapping counts them.
var (
	unreportedEdges = regexp.MustCompile(`^stopped flapping: .* after (\d+) unreported edges?$`)
	adviceKeep      = regexp.MustCompile("`keep_firing_for: ([0-9]+[smhd])`")
)

// Add folds one report into its incident. Reports must come oldest first, as the reports
// stream holds them.
func (a *Analyzer) Add(rep *triaged.Report) {
	a.reports++
	inc := a.incidents[rep.IncidentID]
	if inc == nil {
		inc = &incident{id: rep.IncidentID, alertName: rep.AlertName, service: rep.Service, rule: rep.Rule,
			severity: rep.Severity, start: rep.StartedAt, group: groupOf(rep), labels: commonLabels(rep.Alerts)}
		a.incidents[rep.IncidentID] = inc
		a.order = append(a.order, inc)
	}
	inc.reports++
	if rep.Severity.Valid() && (!inc.severity.Valid() || rep.Severity < inc.severity) {
		inc.severity, inc.rule = rep.Severity, rep.Rule
	}
	switch {
	case inc.resolved && rep.Event != triaged.EventResolved:
		// Fired again after a reported resolution: reopened, or an update declaring it flapping.
		inc.flaps++
		if inc.lastEnd != nil {
			if refire := refiredAt(rep, *inc.lastEnd); refire.After(*inc.lastEnd) {
				inc.gaps = append(inc.gaps, refire.Sub(*inc.lastEnd))
			}
		}
	case rep.Flapping && !inc.flappingNow && rep.Event == triaged.EventUpdated:
		// Declared flapping on a refiring whose resolution was held back, never reported.
		inc.flaps++
	}
	inc.resolved = rep.Event == triaged.EventResolved
	inc.flappingNow = rep.Flapping
	for _, c := range rep.Changes {
		if m := unreportedEdges.FindStringSubmatch(c); m != nil {
			n, _ := strconv.Atoi(m[1])
			inc.flaps += n / 2 // an edge is a resolution or a refiring: two make a cycle
		}
	}
	if m := adviceKeep.FindStringSubmatch(rep.FlapAdvice); m != nil {
		inc.adviceKeep = m[1]
	}
	if inc.resolved && rep.EndedAt != nil {
		end := *rep.EndedAt
		if inc.firstEnd == nil {
			inc.firstEnd = &end
		}
		inc.lastEnd = &end
	}
}

// commonLabels are the labels every alert has with the same value, but alertname and severity.
func commonLabels(alerts []triaged.ReportAlert) map[string]string {
	if len(alerts) == 0 {
		return nil
	}
	common := map[string]string{}
	for k, v := range alerts[0].Labels {
		if k != "alertname" && k != "severity" {
			common[k] = v
		}
	}
	for _, al := range alerts[1:] {
		for k, v := range common {
			if al.Labels[k] != v {
				delete(common, k)
			}
		}
	}
	return common
}

// groupOf is the alert group an incident belongs to: Alertmanager's group key, or, without
// one, its alertname and service.
func groupOf(rep *triaged.Report) string {
	if rep.GroupKey != "" {
		return rep.GroupKey
	}
	return rep.AlertName + "\x00" + rep.Service
}

// refiredAt is when a report's incident fired again after it ended at end: the latest start of
// its firing alerts, or when triaged received the alert when no start is later than end.
func refiredAt(rep *triaged.Report, end time.Time) time.Time {
	var t time.Time
	for _, al := range rep.Alerts {
		if al.Status != triaged.StatusResolved && al.StartsAt.After(t) {
			t = al.StartsAt
		}
	}
	if t.After(end) {
		return t
	}
	return rep.ReceivedAt
}

// duration is how long the incident's first episode lasted; ok is false while it has not ended.
func (inc *incident) duration() (time.Duration, bool) {
	if inc.firstEnd == nil {
		return 0, false
	}
	return inc.firstEnd.Sub(inc.start), true
}

// end is when the incident was last seen ending, or its start while it never did.
func (inc *incident) end() time.Time {
	if inc.lastEnd != nil {
		return *inc.lastEnd
	}
	return inc.start
}

// firingAt reports whether the incident was firing at t: started by then, and not resolved, or
// resolved only after t.
func (inc *incident) firingAt(t time.Time) bool {
	if t.Before(inc.start) {
		return false
	}
	return !inc.resolved || inc.lastEnd != nil && !t.After(*inc.lastEnd)
}

// percentile is the p-th percentile (0 < p <= 1) of ds by the nearest-rank method.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(float64(len(s)) * p))
	return s[min(max(rank, 1), len(s))-1]
}

// minuteAbove is the shortest whole number of minutes longer than d, as Prometheus writes it.
func minuteAbove(d time.Duration) string {
	return strconv.Itoa(int(d/time.Minute)+1) + "m"
}

// short writes d as people read it: 52s, 4m10s, 2h5m.
func short(d time.Duration) string {
	if d >= time.Hour {
		d = d.Round(time.Minute)
	} else {
		d = d.Round(time.Second)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
