package triaged

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Bounds of the report budget (report.max_bytes): what one encoded report may weigh.
const (
	// DefaultReportMaxBytes is well under NATS' default max payload of 1 MiB, so that a report
	// also fits, while it waits to be published, in its incident's record beside the evidence.
	DefaultReportMaxBytes = 256 << 10
	// MinReportMaxBytes keeps room for a report that says what it had to leave out.
	MinReportMaxBytes = 16 << 10
	// MaxReportMaxBytes is half NATS' default max payload: a report waits in its incident's
	// record (as base64, 4/3 of its size) beside the evidence it shows before it is published,
	// and that record must fit the max payload too.
	MaxReportMaxBytes = 512 << 10
)

// MaxReportChanges bounds the recent changes an incident keeps and a report lists, nearest the
// alert first; the rest are counted (Report.RecentChangesOmitted). A flood of deploys of one
// service must not push its incidents' records and reports over NATS' max payload.
const MaxReportChanges = 50

// CutMarker ends a value the report budget shortened; the number says how many bytes were cut.
const CutMarker = " …[%d bytes cut]"

// trimLevels is how many ever tighter passes EncodeReportWithin makes before it falls back to
// the minimal report.
const trimLevels = 7

// EncodeReportWithin is EncodeReport for a report that must fit in max bytes, as every report on
// the reports stream must (NATS refuses a message over its max payload, and an unpublished
// report is an incident nobody hears of). A report over it is trimmed, ever tighter, on a copy:
// long values are cut with CutMarker, lists keep their first entries and count the rest ("… and
// 94 more"), and Trimmed says what was done. As a last resort the report keeps only what
// identifies the incident and says what was dropped. The report returned is the one encoded:
// rep itself when it fitted, else the trimmed copy; rep, which shares maps and slices with the
// incident it was built from, is never changed.
func EncodeReportWithin(rep *Report, max int) ([]byte, *Report, error) {
	data, err := EncodeReport(rep)
	if err != nil || len(data) <= max {
		return data, rep, err
	}
	size := len(data)
	cp, err := DecodeReport(data) // a deep copy, which every level trims further
	if err != nil {
		return nil, nil, err
	}
	t := newTrimmer(cp, max)
	for t.level = 0; t.level < trimLevels; t.level++ {
		t.trim(cp)
		cp.Trimmed = t.notes(cp, size)
		if data, err = EncodeReport(cp); err != nil {
			return nil, nil, err
		}
		if len(data) <= max {
			return data, cp, nil
		}
	}
	min := minimalReport(rep, size, max)
	data, err = EncodeReport(min)
	return data, min, err
}

// trimmer cuts a report level by level: level 0 is the lightest touch, every next level halves
// what a value and a list may keep. It remembers what the report had, to say what it cut.
type trimmer struct {
	max, level int
	before     Report // the lists' lengths and counters before the first level
	logsBefore []int  // each excerpt's LinesOmitted before: the excerpts are trimmed in place
	notesFrom  []string
	pairs      int // labels and annotations left out
	metrics    metricCuts
	cut, links bool
}

func newTrimmer(rep *Report, max int) *trimmer {
	t := &trimmer{max: max, before: *rep, notesFrom: rep.Trimmed}
	for _, l := range rep.Logs {
		t.logsBefore = append(t.logsBefore, l.LinesOmitted)
	}
	return t
}

// valueCap is the most bytes one value keeps: 1/16 of the budget at level 0.
func (t *trimmer) valueCap() int { return max(t.max/(16<<t.level), 64) }

// listCap is the most entries a list keeps.
func (t *trimmer) listCap() int { return max(64>>t.level, 1) }

// trim cuts the report to the level's caps. The counts of what is left out add up over levels.
func (t *trimmer) trim(rep *Report) {
	n := t.listCap()
	if d := len(rep.Alerts) - n; d > 0 {
		rep.Alerts, rep.AlertsOmitted = rep.Alerts[:n], rep.AlertsOmitted+d
	}
	for i := range rep.Alerts {
		a := &rep.Alerts[i]
		t.pairs += keepPairs(&a.Labels, max(n/2, 4)) + keepPairs(&a.Annotations, max(n/4, 2))
	}
	if d := len(rep.RecentChanges) - n; d > 0 {
		rep.RecentChanges, rep.RecentChangesOmitted = rep.RecentChanges[:n], rep.RecentChangesOmitted+d
	}
	rep.Probes = rep.Probes[:min(len(rep.Probes), n)]
	rep.Decisions = rep.Decisions[:min(len(rep.Decisions), n)]
	for i := range rep.Logs {
		l := &rep.Logs[i]
		if d := len(l.Lines) - 2*n; d > 0 {
			l.Lines, l.LinesOmitted, l.Truncated = l.Lines[d:], l.LinesOmitted+d, true
		}
	}
	for _, list := range []*[]string{&rep.Changes, &rep.Observations, &rep.Owners, &rep.Dependencies, &rep.EscalationPath} {
		*list = keepFirst(*list, n)
	}
	if rb := rep.Runbook; rb != nil {
		rb.Steps, rb.Why = keepFirst(rb.Steps, n), keepFirst(rb.Why, n)
	}
	rep.Metrics = t.metrics.trim(rep.Metrics, n)
	if m := rep.MeasuredImpact; m != nil {
		m.Queries = m.Queries[:min(len(m.Queries), n)]
	}
	c := cutValues(reflect.ValueOf(rep).Elem(), "", t.valueCap())
	t.cut, t.links = t.cut || c.cut > 0, t.links || c.dropped > 0
}

// notes say in words what the levels so far left out, after the report's own notes.
func (t *trimmer) notes(rep *Report, size int) []string {
	notes := append(slices.Clip(t.notesFrom), fmt.Sprintf("trimmed to fit the report budget of %d bytes (report.max_bytes); it was %d bytes", t.max, size))
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	if d := rep.AlertsOmitted - t.before.AlertsOmitted; d > 0 {
		note("alerts: the first %d listed, %d more left out", len(rep.Alerts), d)
	}
	if t.pairs > 0 {
		note("labels and annotations of the alerts listed: %d left out", t.pairs)
	}
	if d := rep.RecentChangesOmitted - t.before.RecentChangesOmitted; d > 0 {
		note("recent changes: the %d nearest the alert listed, %d more left out", len(rep.RecentChanges), d)
	}
	if d := len(t.before.Probes) - len(rep.Probes); d > 0 {
		note("probes: the first %d listed, %d more left out", len(rep.Probes), d)
	}
	if d := len(t.before.Decisions) - len(rep.Decisions); d > 0 {
		note("severity decisions: the first %d listed, %d more left out", len(rep.Decisions), d)
	}
	for i, l := range rep.Logs {
		if d := l.LinesOmitted - t.logsBefore[i]; d > 0 {
			note("logs of %s: the last %d lines kept, %d older left out", l.Source, len(l.Lines), d)
		}
	}
	notes = append(notes, t.metrics.notes(len(rep.Metrics))...)
	if t.cut {
		note("values longer than %d bytes cut, each marked with how many bytes it lost", t.valueCap())
	}
	if t.links {
		note("links longer than %d bytes left out", t.valueCap())
	}
	return notes
}

// keepFirst keeps the first n entries of a list of texts and says how many more there were, in
// an entry of its own: "… and 94 more". A list it cut before has such an entry last.
func keepFirst(list []string, n int) []string {
	more := 0
	if k := len(list) - 1; k >= 0 {
		if _, err := fmt.Sscanf(list[k], moreMarker, &more); err == nil && fmt.Sprintf(moreMarker, more) == list[k] {
			list = list[:k]
		} else {
			more = 0
		}
	}
	if len(list) > n {
		list, more = list[:n:n], more+len(list)-n
	}
	if more == 0 {
		return list
	}
	return append(list[:len(list):len(list)], fmt.Sprintf(moreMarker, more))
}

const moreMarker = "… and %d more"

// keepPairs keeps at most n pairs of a label or annotation set, the ones a reader looks for
// first, and returns how many it left out.
func keepPairs(m *map[string]string, n int) int {
	if len(*m) <= n {
		return 0
	}
	names := make([]string, 0, len(*m))
	for k := range *m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		pi, pj := slices.Index(firstLabels, names[i]), slices.Index(firstLabels, names[j])
		if (pi >= 0) != (pj >= 0) {
			return pi >= 0
		}
		if pi != pj {
			return pi < pj
		}
		return names[i] < names[j]
	})
	kept := make(map[string]string, n)
	for _, k := range names[:n] {
		kept[k] = (*m)[k]
	}
	*m = kept
	return len(names) - n
}

// firstLabels are the labels and annotations a report keeps longest.
var firstLabels = []string{"alertname", "instance", "service", "severity", "summary", "description", "job", "namespace", "env", "environment", "cluster"}

// linkFields are the JSON names of fields that hold a link: a cut link would lead elsewhere, so
// an overlong one is left out instead.
var linkFields = []string{"url", "generator_url", "alertmanager", "generator", "silence", "architecture_doc", "graph"}

type cutCount struct{ cut, dropped int }

// CutValues cuts, in place, every string under the struct, slice or map v points to that is
// longer than n bytes (with CutString), and empties the links that long, as the report budget
// does. It returns how many values it cut and how many links it left out.
func CutValues(v any, n int) (cut, dropped int) {
	c := cutValues(reflect.ValueOf(v), "", n)
	return c.cut, c.dropped
}

// cutValues cuts every string under v longer than n bytes, map keys and values included, and
// empties the links that long.
func cutValues(v reflect.Value, name string, n int) cutCount {
	var c cutCount
	switch v.Kind() {
	case reflect.String:
		if v.Len() > n && v.CanSet() {
			if slices.Contains(linkFields, name) {
				v.SetString("")
				c.dropped++
			} else {
				v.SetString(CutString(v.String(), n))
				c.cut++
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			c = cutValues(v.Elem(), name, n)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			d := cutValues(v.Field(i), tag, n)
			c.cut, c.dropped = c.cut+d.cut, c.dropped+d.dropped
		}
	case reflect.Slice:
		for i := range v.Len() {
			d := cutValues(v.Index(i), name, n)
			c.cut, c.dropped = c.cut+d.cut, c.dropped+d.dropped
		}
	case reflect.Map:
		m, ok := v.Interface().(map[string]string)
		if !ok || len(m) == 0 {
			break
		}
		out := make(map[string]string, len(m))
		for k, val := range m {
			if len(k) > n {
				k = CutString(k, n)
				c.cut++
			}
			if len(val) > n {
				val = CutString(val, n)
				c.cut++
			}
			out[k] = val
		}
		v.Set(reflect.ValueOf(out))
	}
	return c
}

// CutString shortens s to at most n bytes, on a rune boundary, marker included: the marker says
// how many bytes were cut.
func CutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	keep := max(n-len(fmt.Sprintf(CutMarker, len(s))), 0)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + fmt.Sprintf(CutMarker, len(s)-keep)
}

// minimalReport is the last resort: what identifies the incident and how severe it is, every
// value cut short, and in words what was left out.
func minimalReport(rep *Report, size, max int) *Report {
	const n = 256
	c := func(s string) string { return CutString(s, n) }
	m := &Report{
		SchemaVersion: rep.SchemaVersion, ID: c(rep.ID), IncidentID: c(rep.IncidentID), Event: Event(c(string(rep.Event))),
		AlertsFiring: rep.AlertsFiring, AlertsResolved: rep.AlertsResolved, AlertsOmitted: rep.AlertsFiring + rep.AlertsResolved,
		Severity: rep.Severity, SeverityName: c(rep.SeverityName), ResponseTime: c(rep.ResponseTime), Status: c(rep.Status),
		AlertName: c(rep.AlertName), Service: c(rep.Service), ServiceFrom: c(rep.ServiceFrom), Environment: c(rep.Environment),
		Team: c(rep.Team), OnCall: c(rep.OnCall), Channel: c(rep.Channel), Summary: c(rep.Summary), UserImpact: c(rep.UserImpact), Impact: rep.Impact,
		StartedAt: rep.StartedAt, EndedAt: rep.EndedAt, ReceivedAt: rep.ReceivedAt, TriagedAt: rep.TriagedAt,
		Rule: c(rep.Rule), RuleSetVersion: c(rep.RuleSetVersion), Decisions: []Decision{}, Alerts: []ReportAlert{},
		TruncatedAlerts: rep.TruncatedAlerts, RecentChanges: []Change{}, RecentChangesOmitted: len(rep.RecentChanges) + rep.RecentChangesOmitted,
		Probes: []Probe{}, Logs: []LogTail{}, Observations: []string{}, Deadlines: rep.Deadlines,
		NextUpdateDue: rep.NextUpdateDue, PostmortemDue: rep.PostmortemDue, Flapping: rep.Flapping,
	}
	why := fmt.Sprintf("left out: the report was %d bytes, over its budget of %d bytes (report.max_bytes)", size, max)
	for _, s := range []string{SectionRecentChanges, SectionProbes, SectionLogs, SectionMetrics, SectionRunbook} {
		m.Pend(s, why)
	}
	m.Headline = Headline(m)
	m.Trimmed = []string{fmt.Sprintf("only what identifies the incident is kept: the report was %d bytes, over its budget of %d bytes (report.max_bytes), even trimmed; "+
		"the alerts, recent changes, probes, logs, metrics, runbook, links, observations and severity decisions were left out", size, max)}
	return m
}

// Pend marks a section of the report as not collected, and says why.
func (r *Report) Pend(section, why string) {
	r.Pending = append(r.Pending, section)
	if r.PendingWhy == nil {
		r.PendingWhy = map[string]string{}
	}
	r.PendingWhy[section] = why
}
