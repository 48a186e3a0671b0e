package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/graph"
)

// The graphs bucket is made at the start and served by the incidents API.
func TestGraphsAreServed(t *testing.T) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce)})
	r.postFile(t, "firing-1-alert.json")
	r.waitReports(t, 1)
	code, list := r.get(t, "/api/v1/incidents")
	var incidents struct {
		Incidents []struct{ ID string } `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(list), &incidents); code != 200 || err != nil || len(incidents.Incidents) != 1 {
		t.Fatalf("GET /api/v1/incidents: %d %v %s", code, err, list)
	}
	id := incidents.Incidents[0].ID

	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), broker.MustNames("triaged").GraphsBucket())
	if err != nil {
		t.Fatalf("the graphs bucket: %v", err)
	}
	pic, err := graph.Render(graph.Spec{Title: "alert"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), id+".alert", pic); err != nil {
		t.Fatal(err)
	}
	if code, body := r.get(t, "/api/v1/incidents/"+id+"/graphs/alert.png"); code != 200 || body != string(pic) {
		t.Errorf("GET the stored graph: %d, %d bytes; want 200 and its %d bytes", code, len(body), len(pic))
	}
	if code, body := r.get(t, "/api/v1/incidents/"+id+"/graphs/error_ratio.png"); code != 404 || !strings.Contains(body, `has no graph \"error_ratio\"`) {
		t.Errorf("GET a graph not stored: %d %s", code, body)
	}
}
