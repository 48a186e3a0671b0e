package ui

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/triaged/triaged"
)

// timelineEntry is one report of an incident, and what changed since the one before.
type timelineEntry struct {
	Ref    triaged.ReportRef
	Report *triaged.Report // nil: retention removed it from the reports stream
	// Diff is what differs from the previous report still on the stream, field by field; the
	// report's own Changes say it in the worker's words.
	Diff []string
}

// diffReports says what differs between two consecutive reports of an incident.
func diffReports(prev, cur *triaged.Report) []string {
	if prev == nil || cur == nil {
		return nil
	}
	var out []string
	change := func(what, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s %s → %s", what, cmpOr(a, "none"), cmpOr(b, "none")))
		}
	}
	change("severity", prev.Severity.String(), cur.Severity.String())
	change("status", prev.Status, cur.Status)
	pc, cc := prev.Counts(), cur.Counts()
	change("alerts firing", strconv.Itoa(pc.Firing), strconv.Itoa(cc.Firing))
	change("alerts resolved", strconv.Itoa(pc.Resolved), strconv.Itoa(cc.Resolved))
	switch {
	case !prev.Flapping && cur.Flapping:
		out = append(out, "started flapping")
	case prev.Flapping && !cur.Flapping:
		out = append(out, "stopped flapping")
	}
	change("deciding rule", prev.Rule, cur.Rule)
	change("team", prev.Team, cur.Team)
	change("on-call", prev.OnCall, cur.OnCall)
	return out
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// pair is a label or annotation; Href is set when the value is an http(s) link.
type pair struct{ Key, Value, Href string }

func pairs(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, pair{k, m[k], href(m[k])})
	}
	return out
}

// memberView is a member alert as the incident page lists it.
type memberView struct {
	triaged.Member
	LabelList      []pair
	AnnotationList []pair
	Summary        string
	Generator      string // the generator URL when it is an http(s) link
}

func members(ms []triaged.Member) []memberView {
	out := make([]memberView, 0, len(ms))
	for _, m := range ms {
		v := memberView{Member: m, LabelList: pairs(m.Labels), Generator: href(m.GeneratorURL)}
		for _, a := range pairs(m.Annotations) {
			if a.Key == "summary" && v.Summary == "" {
				v.Summary = a.Value
				continue
			}
			v.AnnotationList = append(v.AnnotationList, a)
		}
		out = append(out, v)
	}
	// Firing first, then by when they started.
	slices.SortStableFunc(out, func(a, b memberView) int {
		if a.Firing() != b.Firing() {
			if a.Firing() {
				return -1
			}
			return 1
		}
		return a.StartsAt.Compare(b.StartsAt)
	})
	return out
}

// number shows a metric's value, or "–" when it was not found.
func number(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	switch unit {
	case "ratio":
		return strconv.FormatFloat(*v*100, 'g', 4, 64) + " %"
	case "percent":
		return strconv.FormatFloat(*v, 'g', 4, 64) + " %"
	case "":
		return strconv.FormatFloat(*v, 'g', 4, 64)
	}
	return strconv.FormatFloat(*v, 'g', 4, 64) + " " + unit
}

// metricView is one metric of the evidence, its values as text.
type metricView struct {
	triaged.MetricEvidence
	NowText, BeforeText, ChangeText, GraphSrc string
}

func metricViews(ms []triaged.MetricEvidence) []metricView {
	out := make([]metricView, 0, len(ms))
	for _, m := range ms {
		v := metricView{MetricEvidence: m, NowText: number(m.Now, m.Unit), BeforeText: number(m.Before, m.Unit)}
		if m.ChangePercent != nil {
			v.ChangeText = fmt.Sprintf("%+.1f %%", *m.ChangePercent)
		}
		// Only a graph of this daemon: img-src is 'self', and a report names its graphs by path.
		if g := href(m.Graph); strings.HasPrefix(g, "/api/v1/incidents/") {
			v.GraphSrc = g
		}
		out = append(out, v)
	}
	return out
}

// Metrics is the current report's metrics evidence, ready to show.
func (p *incidentPage) Metrics() []metricView {
	if p.Report == nil {
		return nil
	}
	return metricViews(p.Report.Metrics)
}

// PendingList is what the current report did not collect, with why.
func (p *incidentPage) PendingList() []pair {
	if p.Report == nil {
		return nil
	}
	out := make([]pair, 0, len(p.Report.Pending))
	for _, s := range p.Report.Pending {
		out = append(out, pair{Key: s, Value: p.Report.PendingWhy[s]})
	}
	return out
}

// ReportLinks are the current report's links back to its sources, only http(s) ones.
func (p *incidentPage) ReportLinks() []pair {
	if p.Report == nil {
		return nil
	}
	l := p.Report.Links
	var out []pair
	for _, x := range []pair{{"Alertmanager", l.Alertmanager, ""}, {"Silence this alert", l.Silence, ""}, {"Source (generator)", l.Generator, ""}} {
		if x.Href = href(x.Value); x.Value != "" {
			out = append(out, x)
		}
	}
	return out
}
