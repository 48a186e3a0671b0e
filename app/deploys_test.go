package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
)

// TestSaturatedDeployIndexIsSaid: a flood of deploys of checkout over its bound pushes out its
// own older deploys only, and the report says the index was saturated instead of presenting the
// changes as complete; the genuine deploy of its dependency is still there (issue 9, point 12).
func TestSaturatedDeployIndexIsSaid(t *testing.T) {
	r := start(t, app.Options{ConfigFile: configFile(t, `enrichment:
  deploys_max_per_service: 5
services:
  - name: checkout
    environment: prod
    dependencies: [payments]
`)})
	prefix := r.app.Config().NATS.Prefix
	alertStart := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	publish := func(svc, version string, before time.Duration) {
		t.Helper()
		body := fmt.Sprintf(`{"service":%q,"environment":"prod","version":%q,"time":%q}`, svc, version, alertStart.Add(-before).Format(time.RFC3339))
		if err := r.app.Conn().Publish(prefix+".deploys."+svc, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	publish("payments", "v1.3.0", 100*time.Minute)
	for i := range 12 { // 12 deploys of checkout from 90 to 79 minutes before the alert: 7 over the bound
		publish("checkout", fmt.Sprintf("flood-%d", i), time.Duration(90-i)*time.Minute)
	}
	testkit.Eventually(t, testTimeout, "the deploy index read the flood", func() bool {
		return metrictest.Value(t, r.app.Registry(), "triaged_deploys_received_total", "source", "nats") == 13
	})
	if got := metrictest.Value(t, r.app.Registry(), "triaged_deploy_index_dropped_total", "reason", "per_service"); got != 7 {
		t.Errorf("triaged_deploy_index_dropped_total{reason=per_service} = %v, want 7", got)
	}

	r.post(t, []byte(fmt.Sprintf(`{"version":"4","status":"firing","receiver":"triaged","groupKey":"{}:{alertname=\"ServiceDown\"}",
"alerts":[{"status":"firing","labels":{"alertname":"ServiceDown","service":"checkout","severity":"critical"},
"annotations":{"summary":"checkout is down"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z"}]}`, alertStart.Format(time.RFC3339))))
	out := r.waitReports(t, 1)
	for _, want := range []string{
		"· 6 deploys in 2h, index incomplete", // the headline: not "none suspect"
		"deploy index saturated for checkout: 7 older events dropped; the changes shown may be incomplete",
		"checkout (prod) `flood-11`",
		"payments (prod) `v1.3.0`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "flood-6`") {
		t.Errorf("the report shows a deploy over the bound:\n%s", out)
	}
}
