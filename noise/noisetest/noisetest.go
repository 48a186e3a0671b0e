// Package noisetest generates incident report histories shaped as triaged's triage worker
// publishes them (opened, resolved after the resolve hold, reopened, flapping declared, the
// flapping summary), for the tests of the noise report.
package noisetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// ResolveHold is how long after an alert ended its resolution is reported: triage's default.
const ResolveHold = time.Minute

// Alert is what every report of a generated incident says about its alert.
type Alert struct {
	Name, Service, Rule string
	Severity            triaged.Severity
	// Labels are the alert's labels besides alertname (and service, added when Service is set).
	Labels map[string]string
}

// History collects the reports of generated incidents.
type History struct {
	reports []*triaged.Report
}

// Incident is one generated incident, to which each method adds a report.
type Incident struct {
	h      *History
	a      Alert
	id     string
	start  time.Time
	seq    int
	firing time.Time // start of the current episode
}

// Open adds the opened report of a new incident of a that started at start.
func (h *History) Open(a Alert, start time.Time) *Incident {
	slug := strings.ToLower(a.Name)
	inc := &Incident{h: h, a: a, id: fmt.Sprintf("%s-%s-%x", start.UTC().Format("20060102"), slug, start.Unix()), start: start, firing: start}
	inc.report(triaged.EventOpened, start, start, nil)
	return inc
}

// Resolve adds the resolution of an alert that ended at end, reported after the resolve hold.
func (inc *Incident) Resolve(end time.Time, changes ...string) *Incident {
	rep := inc.report(triaged.EventResolved, end.Add(ResolveHold), end, &end)
	rep.Changes = append([]string{"1 of 1 recovered"}, changes...)
	return inc
}

// Reopen adds the reopened report of the alert firing again at at.
func (inc *Incident) Reopen(at time.Time) *Incident {
	inc.firing = at
	inc.report(triaged.EventReopened, at, at, nil)
	return inc
}

// Flap adds the update that declares the incident flapping as it fires again at at.
func (inc *Incident) Flap(at time.Time, advice string) *Incident {
	inc.firing = at
	rep := inc.report(triaged.EventUpdated, at, at, nil)
	rep.Flapping, rep.FlapAdvice = true, advice
	rep.Changes = []string{"1 fired again", "flapping: " + advice}
	return inc
}

// StopFlapping adds the resolution that ends the flapping at end, after edges unreported edges.
func (inc *Incident) StopFlapping(end time.Time, edges int) *Incident {
	return inc.Resolve(end, fmt.Sprintf("stopped flapping: no change for 10m0s after %d unreported %s", edges, map[bool]string{true: "edge", false: "edges"}[edges == 1]))
}

// report adds a report of the incident made at at about its alert as of its episode's start,
// ended at end (nil while firing).
func (inc *Incident) report(ev triaged.Event, at, received time.Time, end *time.Time) *triaged.Report {
	labels := map[string]string{"alertname": inc.a.Name}
	if inc.a.Service != "" {
		labels["service"] = inc.a.Service
	}
	maps.Copy(labels, inc.a.Labels)
	status, state := "firing", triaged.ReportInvestigating
	firing, resolved := 1, 0
	if end != nil {
		status, state, firing, resolved = triaged.StatusResolved, triaged.ReportResolved, 0, 1
	}
	rep := &triaged.Report{
		SchemaVersion: triaged.ReportSchemaVersion,
		ID:            fmt.Sprintf("%s.%d.%s", inc.id, inc.seq, ev),
		IncidentID:    inc.id, Event: ev,
		Severity: inc.a.Severity, SeverityName: inc.a.Severity.Name(), ResponseTime: inc.a.Severity.ResponseTimeText(),
		Status: state, AlertName: inc.a.Name, Service: inc.a.Service, Rule: inc.a.Rule,
		StartedAt: inc.start.UTC(), EndedAt: end, ReceivedAt: received.UTC(), TriagedAt: at.UTC(),
		GroupKey:       fmt.Sprintf(`{}:{alertname=%q}`, inc.a.Name),
		AlertsFiring:   firing,
		AlertsResolved: resolved,
		Alerts: []triaged.ReportAlert{{Fingerprint: fmt.Sprintf("%x", len(inc.a.Name)), Status: status, Severity: inc.a.Severity,
			Rule: inc.a.Rule, Labels: labels, StartsAt: inc.firing.UTC(), EndsAt: end}},
	}
	inc.seq++
	inc.h.reports = append(inc.h.reports, rep)
	return rep
}

// Reports are the reports made, in the order they were made, as the reports stream holds them.
func (h *History) Reports() []*triaged.Report {
	s := slices.Clone(h.reports)
	slices.SortStableFunc(s, func(x, y *triaged.Report) int { return x.TriagedAt.Compare(y.TriagedAt) })
	return s
}

// The three alerts of ThreeAlerts.
var (
	Flapping = Alert{Name: "KafkaConsumerLag", Service: "orders", Severity: triaged.P3, Labels: map[string]string{"consumer_group": "billing"}}
	Brief    = Alert{Name: "ProbeFailed", Service: "checkout", Rule: "probe-page", Severity: triaged.P2, Labels: map[string]string{"instance": "checkout-1"}}
	Quiet    = Alert{Name: "CertificateExpiringSoon", Service: "edge", Rule: "cert-expiry", Severity: triaged.P3, Labels: map[string]string{"instance": "edge-lb"}}
)

// ThreeAlerts is a month of history from begin on: Flapping flaps (8 incidents, each firing for
// 10 minutes, resolving, and firing again after 80 to 100 seconds, until triaged calls it
// flapping); Brief always resolves on its own within a minute (12 P2 incidents lasting 30s to
// 52s); Quiet fired once, for a day.
func ThreeAlerts(begin time.Time) []*triaged.Report {
	var h History
	h.Open(Quiet, begin).Resolve(begin.Add(24 * time.Hour))
	for i := range 8 {
		t := begin.Add(time.Duration(i)*84*time.Hour + 3*time.Hour)
		e1 := t.Add(10 * time.Minute)
		r1 := e1.Add(90 * time.Second)
		e2 := r1.Add(10 * time.Minute)
		r2 := e2.Add(80 * time.Second)
		e3 := r2.Add(10 * time.Minute)
		r3 := e3.Add(100 * time.Second)
		h.Open(Flapping, t).Resolve(e1).Reopen(r1).Resolve(e2).Reopen(r2).Resolve(e3).
			Flap(r3, "fired 4 times within 30m0s, about every 11m30s; reports of each edge are suppressed until it is stable for 10m0s. Consider `keep_firing_for: 4m` (twice the longest resolved gap seen) or a longer `for:` on the alerting rule").
			StopFlapping(r3.Add(40*time.Minute), 4)
	}
	for i := range 12 {
		t := begin.Add(time.Duration(i)*48*time.Hour + 6*time.Hour)
		h.Open(Brief, t).Resolve(t.Add(time.Duration(30+2*i) * time.Second))
	}
	return h.Reports()
}
