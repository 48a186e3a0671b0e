package triaged

import (
	"net/url"
	"slices"
)

// GraphPath is where the daemon serves the PNG graph of an incident's metric named name:
// "/api/v1/incidents/{id}/graphs/{name}.png", each part path-escaped.
func GraphPath(incident, name string) string {
	return "/api/v1/incidents/" + url.PathEscape(incident) + "/graphs/" + url.PathEscape(name) + ".png"
}

// WithGraphPaths is a copy of an incident's metrics evidence with each rendered graph's path
// (GraphPath) set, as a report shows it; the evidence itself, shared with the incident, is left
// as it was.
func WithGraphPaths(incident string, ms []MetricEvidence) []MetricEvidence {
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
