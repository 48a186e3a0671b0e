package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/graph"
)

func TestGraph(t *testing.T) {
	s := newStore(t)
	s.fill()
	ctx := context.Background()
	graphs, err := s.js.KeyValue(ctx, names.GraphsBucket())
	if err != nil {
		t.Fatal(err)
	}
	pic, err := graph.Render(graph.Spec{Title: "error_ratio · payments-api", Unit: "ratio", Points: []graph.Point{{T: at(0), V: 0.1}, {T: at(60e9), V: 0.2}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := graphs.Put(ctx, idTargetDown+".error_ratio", pic); err != nil {
		t.Fatal(err)
	}
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports, Graphs: graphs})

	res := serve(h, http.MethodGet, "/api/v1/incidents/"+idTargetDown+"/graphs/error_ratio.png")
	b := body(t, res)
	if res.StatusCode != http.StatusOK || !bytes.Equal(b, pic) {
		t.Fatalf("GET the graph: %d, %d bytes; want 200 and the %d bytes stored: %.200s", res.StatusCode, len(b), len(pic), b)
	}
	for k, want := range map[string]string{"Content-Type": "image/png", "X-Content-Type-Options": "nosniff", "Cache-Control": "max-age=31536000, immutable"} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != graph.DefaultWidth || img.Bounds().Dy() != graph.DefaultHeight {
		t.Errorf("the graph served: %v, %v", err, img.Bounds())
	}

	for _, tc := range []struct {
		h      http.Handler
		method string
		path   string
		code   int
		reason string
	}{
		{h, "GET", "/api/v1/incidents/20261126-nope-000000/graphs/alert.png", 404, `no incident "20261126-nope-000000"`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/latency_p99.png", 404, `incident "` + idTargetDown + `" has no graph "latency_p99": it was not drawn or not stored`},
		{h, "GET", "/api/v1/incidents/" + idSlowAPI + "/graphs/error_ratio.png", 404, `incident "` + idSlowAPI + `" has no graph "error_ratio"`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/Error.png", 400, `graph name "Error": 'E' is not allowed at 0, want [a-z_][a-z0-9_]*`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/error-ratio.png", 400, `graph name "error-ratio": '-' is not allowed at 5`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/.png", 400, `graph name "": want 1 to 128 characters`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/error_ratio.svg", 400, `graph "error_ratio.svg": want NAME.png`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/error_ratio", 400, `graph "error_ratio": want NAME.png`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/a.b.png", 400, `graph name "a.b": '.' is not allowed at 1`},
		{h, "GET", "/api/v1/incidents/a.b/graphs/alert.png", 400, `incident id "a.b": '.' is not allowed, want letters, digits, '_' or '-'`},
		{h, "GET", "/api/v1/incidents/a%20b/graphs/alert.png", 400, `incident id "a b": ' ' is not allowed`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/", 404, `no such endpoint`},
		{h, "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/x/y.png", 404, `no such endpoint`},
		{h, "POST", "/api/v1/incidents/" + idTargetDown + "/graphs/error_ratio.png", 405, `method POST not allowed`},
		{api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports}), "GET", "/api/v1/incidents/" + idTargetDown + "/graphs/error_ratio.png", 501, `graphs are not available: this triaged has no graphs bucket`},
	} {
		res := serve(tc.h, tc.method, tc.path)
		b := body(t, res)
		var e struct{ Status, Error string }
		if err := json.Unmarshal(b, &e); err != nil || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: not a JSON error: %s %.200s", tc.method, tc.path, res.Header.Get("Content-Type"), b)
			continue
		}
		if res.StatusCode != tc.code || !strings.Contains(e.Error, tc.reason) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.path, res.StatusCode, e.Error, tc.code, tc.reason)
		}
	}
}
