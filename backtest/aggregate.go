package backtest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/triaged/triaged"
)

// aggregate gathers the outcomes; one goroutine owns it.
type aggregate struct {
	o                       *Options
	alerts, openings        int
	openingsWithoutEvidence int
	unknownKinds            int
	changed, ruleChanged    int
	classify, escalate      matrix
	alertnames, services    map[string]*keyAgg
	incidents               map[string]*incidentAgg
	leftAlertnames, leftSvc int
	leftIncidents           int
	mismatched              int
	mismatchVersions        map[string]int
}

// incidentAgg is an incident's highest severity under each rule set (0: none yet, or all its
// alerts dropped).
type incidentAgg struct {
	before, after      triaged.Severity
	alertname, service string
}

func newAggregate(o *Options) *aggregate {
	return &aggregate{
		o: o, alertnames: map[string]*keyAgg{}, services: map[string]*keyAgg{},
		incidents: map[string]*incidentAgg{}, mismatchVersions: map[string]int{},
	}
}

func (g *aggregate) add(batch []outcome) {
	for i := range batch {
		oc := &batch[i]
		if oc.mismatch != "" {
			g.mismatched++
			if len(g.mismatchVersions) < 5 || g.mismatchVersions[oc.mismatch] > 0 {
				g.mismatchVersions[oc.mismatch]++
			}
		}
		switch oc.stage {
		case StageClassify:
			g.alerts++
			g.classify[sevIndex(oc.before.sev)][sevIndex(oc.after.sev)]++
		case StageEscalate:
			g.openings++
			g.escalate[sevIndex(oc.before.sev)][sevIndex(oc.after.sev)]++
		case stageNoEvidence:
			g.openingsWithoutEvidence++
			continue
		default:
			g.unknownKinds++
			continue
		}
		g.incident(oc)
		if oc.before == oc.after {
			continue
		}
		if oc.before.sev != oc.after.sev {
			g.changed++
		} else {
			g.ruleChanged++
		}
		if !g.key(g.alertnames, oc.rec.Alert.Name(), oc) {
			g.leftAlertnames++
		}
		if !g.key(g.services, oc.rec.Service.Name, oc) {
			g.leftSvc++
		}
	}
	if g.o.Progress != nil {
		g.o.Progress(g.alerts + g.openings + g.openingsWithoutEvidence + g.unknownKinds)
	}
}

// key adds a changed outcome to the changes of one alertname or service, unless the map is full.
func (g *aggregate) key(m map[string]*keyAgg, name string, oc *outcome) bool {
	k := m[name]
	if k == nil {
		if len(m) >= g.o.Keys {
			return false
		}
		k = &keyAgg{rules: map[[2]string]int{}}
		m[name] = k
	}
	k.add(oc, g.o.Examples)
	return true
}

func (g *aggregate) incident(oc *outcome) {
	// Records the workers let go (unchanged) still carry their group: the incident's severity
	// depends on every member.
	group := oc.group
	if group == "" {
		return
	}
	inc := g.incidents[group]
	if inc == nil {
		if len(g.incidents) >= g.o.Incidents {
			g.leftIncidents++
			return
		}
		inc = &incidentAgg{alertname: oc.alertname, service: oc.service}
		g.incidents[group] = inc
	}
	inc.before = higher(inc.before, oc.before.sev)
	inc.after = higher(inc.after, oc.after.sev)
}

// higher is the more urgent of two severities, 0 standing for none.
func higher(a, b triaged.Severity) triaged.Severity {
	switch {
	case !b.Valid():
		return a
	case !a.Valid() || b < a:
		return b
	}
	return a
}

func pages(s triaged.Severity) bool { return s == triaged.P1 || s == triaged.P2 }

func (g *aggregate) err() error {
	if g.mismatched == 0 {
		return nil
	}
	return &VersionMismatchError{
		Records: g.mismatched, Of: g.alerts + g.openings,
		Versions: slices.Sorted(maps.Keys(g.mismatchVersions)), Baseline: g.o.Baseline.Version(),
	}
}

// VersionMismatchError says which records were decided by other rules than a baseline given
// as the rules in force (Options.InForce). It is ErrVersionMismatch.
type VersionMismatchError struct {
	// Records of Of were decided by Versions (at most five named), not by Baseline.
	Records, Of int
	Versions    []string
	Baseline    string
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("%d of %d records were decided by rule set version %s, not by the baseline's %s",
		e.Records, e.Of, strings.Join(e.Versions, ", "), e.Baseline)
}

// Is makes errors.Is(err, ErrVersionMismatch) hold.
func (e *VersionMismatchError) Is(target error) bool { return target == ErrVersionMismatch }

func (g *aggregate) result() *Result {
	r := &Result{
		Baseline:                RuleSetInfo{g.o.Baseline.Version(), g.o.Baseline.Files()},
		Candidate:               RuleSetInfo{g.o.Candidate.Version(), g.o.Candidate.Files()},
		Alerts:                  g.alerts,
		Openings:                g.openings,
		OpeningsWithoutEvidence: g.openingsWithoutEvidence,
		UnknownKinds:            g.unknownKinds,
		Changed:                 g.changed,
		RuleChanged:             g.ruleChanged,
		Classification:          g.classify.transitions(true),
		Escalation:              g.escalate.transitions(true),
		Alertnames:              sortKeys(g.alertnames),
		Services:                sortKeys(g.services),
		LeftOut:                 LeftOut{Alertnames: g.leftAlertnames, Services: g.leftSvc, Incidents: g.leftIncidents},
	}
	r.Incidents.Tracked = len(g.incidents)
	r.Incidents.List = []IncidentChange{}
	for group, inc := range g.incidents {
		if inc.before == inc.after {
			continue
		}
		r.Incidents.Changed++
		ic := IncidentChange{Group: group, Alertname: inc.alertname, Service: inc.service, From: SeverityName(inc.before), To: SeverityName(inc.after)}
		switch {
		case pages(inc.after) && !pages(inc.before):
			r.Incidents.PagesAdded++
			ic.Page = "added"
		case pages(inc.before) && !pages(inc.after):
			r.Incidents.PagesRemoved++
			ic.Page = "removed"
		}
		r.Incidents.List = append(r.Incidents.List, ic)
	}
	// Pages first, the most urgent outcome first, then by group: the same list on every run.
	slices.SortFunc(r.Incidents.List, func(a, b IncidentChange) int {
		return cmp.Or(cmp.Compare(pageRank(a.Page), pageRank(b.Page)), cmp.Compare(min(a.From, a.To), min(b.From, b.To)), cmp.Compare(a.Group, b.Group))
	})
	if len(r.Incidents.List) > g.o.Listed {
		r.LeftOut.Listed = len(r.Incidents.List) - g.o.Listed
		r.Incidents.List = r.Incidents.List[:g.o.Listed]
	}
	return r
}

func pageRank(p string) int {
	if p == "" {
		return 1
	}
	return 0
}
