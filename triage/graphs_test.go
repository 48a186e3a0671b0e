package triage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/triage"
)

// graphing finds the alert's expression and two catalog queries, with graphs of the first two
// (and, when late, of the third after the opening).
type graphing struct {
	png  map[string][]byte
	late bool
}

func (g graphing) Enrich(context.Context, *triaged.Alert, triaged.Service, triaged.Classification) (triaged.Enrichment, func() (triaged.Enrichment, bool)) {
	enr := triaged.Enrichment{
		Metrics: []triaged.MetricEvidence{
			{Name: triaged.AlertExpressionMetric, HasGraph: true},
			{Name: "error_ratio", HasGraph: true},
			{Name: "request_rate", Error: "still running at the deadline"},
		},
		Graphs: []triaged.Graph{{Name: triaged.AlertExpressionMetric, PNG: g.png["alert"]}, {Name: "error_ratio", PNG: g.png["error_ratio"]}},
	}
	if !g.late {
		return enr, nil
	}
	return enr, func() (triaged.Enrichment, bool) {
		later := enr
		later.Metrics = slices.Clone(enr.Metrics)
		later.Metrics[2] = triaged.MetricEvidence{Name: "request_rate", HasGraph: true}
		later.Graphs = append(slices.Clone(enr.Graphs), triaged.Graph{Name: "request_rate", PNG: g.png["request_rate"]})
		later.Probes = []triaged.Probe{{Name: "health", OK: true}} // so the late evidence makes an update
		return later, true
	}
}

// evidence is the incident's evidence as the incidents bucket holds it.
func (e *env) evidence(t *testing.T, id string) *triaged.Enrichment {
	t.Helper()
	ctx := context.Background()
	kv, err := e.js.KeyValue(ctx, names.IncidentsBucket())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := kv.Get(ctx, triaged.IncidentIndexKey(id))
	if err != nil {
		t.Fatal(err)
	}
	ent, err := kv.Get(ctx, string(idx.Value()))
	if err != nil {
		t.Fatal(err)
	}
	var inc triaged.Incident
	if err := json.Unmarshal(ent.Value(), &inc); err != nil {
		t.Fatal(err)
	}
	if inc.Evidence == nil {
		t.Fatal("the incident has no evidence")
	}
	return inc.Evidence
}

func hasGraph(enr *triaged.Enrichment) map[string]bool {
	out := map[string]bool{}
	for _, m := range enr.Metrics {
		out[m.Name] = m.HasGraph
	}
	return out
}

func TestGraphsAreStoredBeforeTheReport(t *testing.T) {
	e := newEnv(t)
	png := map[string][]byte{"alert": []byte("\x89PNG alert"), "error_ratio": []byte("\x89PNG ratio"), "request_rate": []byte("\x89PNG rate")}
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P2), Enricher: graphing{png: png, late: true}, Graphs: broker.NewGraphStore(e.topo.Graphs)}, 1)
	e.publish(t, "firing-1-alert.json")
	reps := e.reports(t, 2) // the opening, and the update with the late evidence
	id := reps[0].IncidentID
	for _, name := range []string{"alert", "error_ratio", "request_rate"} {
		ent, err := e.topo.Graphs.Get(context.Background(), id+"."+name)
		if err != nil {
			t.Errorf("graph %s.%s: %v", id, name, err)
			continue
		}
		if !bytes.Equal(ent.Value(), png[name]) {
			t.Errorf("graph %s.%s holds %q, want %q", id, name, ent.Value(), png[name])
		}
	}
	want := map[string]bool{"alert": true, "error_ratio": true, "request_rate": true}
	if got := hasGraph(e.evidence(t, id)); !maps.Equal(got, want) {
		t.Errorf("HasGraph by metric %v, want %v", got, want)
	}
	for _, r := range reps {
		for _, o := range r.Observations {
			if strings.Contains(o, "not stored") {
				t.Errorf("report %s observes %q", r.ID, o)
			}
		}
	}
}

func TestAGraphNotStoredIsNotLinkedAndSaysWhy(t *testing.T) {
	e := newEnv(t)
	o := e.opts
	o.GraphsMaxBytes = 16 << 10
	topo, err := broker.Ensure(context.Background(), e.js, names, o)
	if err != nil {
		t.Fatal(err)
	}
	png := map[string][]byte{"alert": bytes.Repeat([]byte("a"), 10<<10), "error_ratio": bytes.Repeat([]byte("r"), 10<<10)}
	e.startWorkerWith(t, triage.Options{Classifier: newClassifier(triaged.P2), Enricher: graphing{png: png}, Graphs: broker.NewGraphStore(topo.Graphs)}, 1)
	e.publish(t, "firing-1-alert.json")
	r := e.reports(t, 1)[0]
	want := "graph of error_ratio not stored: the graphs bucket TRIAGED_GRAPHS is full (nats.graphs_max_bytes)"
	if !slices.Contains(r.Observations, want) {
		t.Errorf("observations %q, want %q", r.Observations, want)
	}
	if got := hasGraph(e.evidence(t, r.IncidentID)); !maps.Equal(got, map[string]bool{"alert": true, "error_ratio": false, "request_rate": false}) {
		t.Errorf("HasGraph by metric %v, want the alert's only", got)
	}
	if _, err := topo.Graphs.Get(context.Background(), r.IncidentID+".alert"); err != nil {
		t.Errorf("the graph that fitted: %v", err)
	}
}

func TestGraphsWithoutAStoreOrAPNGAreNotLinked(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store bool
		png   map[string][]byte
		obs   []string
	}{
		{name: "no store", png: map[string][]byte{"alert": []byte("a"), "error_ratio": []byte("r")}},
		{name: "no PNG", store: true, png: map[string][]byte{"alert": []byte("a")}, obs: []string{"graph of error_ratio not stored: no PNG was rendered"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			o := triage.Options{Classifier: newClassifier(triaged.P2), Enricher: graphing{png: tt.png}}
			if tt.store {
				o.Graphs = broker.NewGraphStore(e.topo.Graphs)
			}
			e.startWorkerWith(t, o, 1)
			e.publish(t, "firing-1-alert.json")
			r := e.reports(t, 1)[0]
			var obs []string
			for _, o := range r.Observations {
				if strings.HasPrefix(o, "graph of") {
					obs = append(obs, o)
				}
			}
			if !slices.Equal(obs, tt.obs) {
				t.Errorf("observations %q, want %q", obs, tt.obs)
			}
			got := hasGraph(e.evidence(t, r.IncidentID))
			if got["error_ratio"] || got["alert"] != tt.store {
				t.Errorf("HasGraph by metric %v, want error_ratio's cleared, the alert's %t", got, tt.store)
			}
		})
	}
}
