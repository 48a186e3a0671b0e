package config_test

import (
	"strings"
	"testing"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/config"
)

// Bounds that contradict each other, or that a message could never fit, are refused at load.
func TestLimitsAreChecked(t *testing.T) {
	yml := `nats:
  alerts_max_bytes: 16777216
  incidents_max_bytes: 1000
ingest:
  max_body_bytes: 4194304
  max_alert_bytes: 1048576
  max_label_value_bytes: 0
  max_inflight_bytes: 1048576
sinks:
  - name: chat
    type: stdout
    concurrency: 5000
`
	_, err := config.Load([]byte(yml), "limits.yml")
	if err == nil {
		t.Fatal("loaded without error")
	}
	for _, w := range []string{
		"limits.yml:2:21: nats.alerts_max_bytes: 16777216 is below 8 times ingest.max_body_bytes (33554432)",
		"limits.yml:3:24: nats.incidents_max_bytes: 1000 is below the minimum of 8388608 bytes (8 MiB)",
		"limits.yml:6:20: ingest.max_alert_bytes: 1048576 is out of range 1024..262144",
		"limits.yml:7:26: ingest.max_label_value_bytes: must be at least 1, got 0",
		"limits.yml:8:23: ingest.max_inflight_bytes: 1048576 is below ingest.max_body_bytes 4194304: the largest webhooks would never be taken",
		"limits.yml:12:18: sinks[0].concurrency: 5000 is out of range 0..1024",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if got := config.Default().Limits(); got != triaged.DefaultLimits() {
		t.Errorf("the config's default limits %+v are not the root package's %+v", got, triaged.DefaultLimits())
	}
}
