package triage

import (
	"context"
	"fmt"

	"github.com/triaged/triaged"
)

// GraphStore keeps an incident's PNG graphs, for the incidents API to serve; broker.GraphStore
// keeps them in the graphs bucket.
type GraphStore interface {
	// Put stores the graph name of incident id. Its error says why it could not, in words a
	// report can show ("the graphs bucket TRIAGED_GRAPHS is full: …").
	Put(ctx context.Context, incidentID, name string, png []byte) error
}

// storeGraphs stores the graphs of enr before a report that links them is built: the report
// links a metric's graph only when its MetricEvidence has HasGraph. A graph that could not be
// stored, or was never rendered, is unlinked, and an observation says why (without a store, the
// graphs are unlinked without one). The PNGs are then dropped from enr: they are never part of
// the incident's record.
func (w *Worker) storeGraphs(ctx context.Context, id string, enr *triaged.Enrichment) {
	png := make(map[string][]byte, len(enr.Graphs))
	for _, g := range enr.Graphs {
		png[g.Name] = g.PNG
	}
	enr.Graphs = nil
	for i := range enr.Metrics {
		m := &enr.Metrics[i]
		if !m.HasGraph {
			continue
		}
		if w.o.Graphs == nil {
			m.HasGraph = false
			continue
		}
		data, ok := png[m.Name]
		var err error
		switch {
		case !ok || len(data) == 0:
			err = fmt.Errorf("no PNG was rendered")
		default:
			err = w.o.Graphs.Put(ctx, id, m.Name, data)
		}
		if err != nil {
			m.HasGraph = false
			enr.Observations = append(enr.Observations, fmt.Sprintf("graph of %s not stored: %v", m.Name, err))
			w.log.Warn("graph not stored: the report goes out without it", "incident", id, "graph", m.Name, "err", err)
		}
	}
}

// enrich runs the Enricher for incident id and stores the graphs of what it found, at the
// deadline and, through late, after it.
func (w *Worker) enrich(ctx context.Context, id string, a *triaged.Alert, svc triaged.Service, cls triaged.Classification) (triaged.Enrichment, func() (triaged.Enrichment, bool)) {
	enr, late := w.o.Enricher.Enrich(ctx, a, svc, cls)
	w.storeGraphs(ctx, id, &enr)
	if late == nil {
		return enr, nil
	}
	return enr, func() (triaged.Enrichment, bool) {
		enr, ok := late()
		if ok {
			w.storeGraphs(ctx, id, &enr)
		}
		return enr, ok
	}
}
