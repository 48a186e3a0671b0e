package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
)

// TestDeploysStreamHealsItself: the deploys stream deleted under a running triaged is recreated,
// and the deploy index takes the events recorded after.
func TestDeploysStreamHealsItself(t *testing.T) {
	names := broker.MustNames("triaged")
	r := start(t, app.Options{})
	record := func(version string) {
		t.Helper()
		body := `{"service":"checkout","environment":"prod","version":"` + version + `"}`
		resp, err := http.Post(r.url+"/api/v1/deploys", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /api/v1/deploys: %d", resp.StatusCode)
		}
	}
	received := func(n float64) {
		t.Helper()
		testkit.Eventually(t, 15*time.Second, "deploy indexed", func() bool {
			return metrictest.Value(t, r.app.Registry(), "triaged_deploys_received_total", "source", "http") >= n
		})
	}
	record("v1")
	record("v2")
	received(2)
	js, _ := jetstream.New(r.app.Conn())
	if err := js.DeleteStream(context.Background(), names.DeploysStream()); err != nil {
		t.Fatal(err)
	}
	if code, body := r.get(t, "/-/ready"); code != 503 || !strings.Contains(body, "stream TRIAGED_DEPLOYS") {
		t.Errorf("/-/ready after deleting the deploys stream: %d %q", code, body)
	}
	testkit.Eventually(t, 10*time.Second, "ready again", func() bool {
		code, _ := r.get(t, "/-/ready")
		return code == 200
	})
	record("v3")
	received(3)
}
