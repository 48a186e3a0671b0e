package triage

import (
	"fmt"
	"net/url"
	"slices"

	"github.com/triaged/triaged"
)

// reportMetrics copies the opening's metrics evidence into a report, with the path of each
// graph stored with the incident. The copy keeps the evidence, which the incident shares, as it
// was.
func reportMetrics(incident string, ms []triaged.MetricEvidence) []triaged.MetricEvidence {
	if len(ms) == 0 {
		return nil
	}
	out := slices.Clone(ms)
	for i := range out {
		out[i].Graph = ""
		if out[i].HasGraph {
			out[i].Graph = GraphPath(incident, out[i].Name)
		}
	}
	return out
}

// GraphPath is where the daemon serves the PNG graph of an incident's metric named name.
func GraphPath(incident, name string) string {
	return "/api/v1/incidents/" + url.PathEscape(incident) + "/graphs/" + url.PathEscape(name) + ".png"
}

// userImpact is the report's User Impact: the measured one when it was measured, else what the
// rule or the alert's annotation said (stated), with why it was not measured when the catalog
// asked for it. A measurement is the opening's: later reports say so.
func userImpact(stated string, m *triaged.MeasuredImpact, event triaged.Event) string {
	const unknown = "Unknown: no rule or annotation states it yet"
	switch {
	case m != nil && m.Text != "":
		if event == triaged.EventUpdated || event == triaged.EventResolved {
			return m.Text + " (measured at the opening)"
		}
		return m.Text
	case m != nil && m.Why != "":
		if stated != "" {
			return fmt.Sprintf("%s (not measured: %s)", stated, m.Why)
		}
		return "Unknown: not measured: " + m.Why
	case stated != "":
		return stated
	}
	return unknown
}
