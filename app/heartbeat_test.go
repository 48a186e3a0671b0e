package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
)

// runAlertmanager runs a real, single Alertmanager with the given config and returns its URL.
func runAlertmanager(t *testing.T, dir, cfg string) string {
	t.Helper()
	bin := alertmanagerBinary(t)
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	amURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(amURL, "http://"),
		"--web.external-url="+amURL,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	var amLog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &amLog, &amLog
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("Alertmanager log:\n%s", amLog.String())
		}
	})
	testkit.Eventually(t, 20*time.Second, "Alertmanager ready", func() bool {
		resp, err := http.Get(amURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return amURL
}

// TestHeartbeatFromRealAlertmanager has a real Alertmanager send Watchdog, as Prometheus' always
// firing rule makes it, then stops the rule: after the heartbeat interval triaged opens a P1
// incident saying alerts may be lost; when the rule fires again the incident resolves. The
// Watchdog itself is never reported.
func TestHeartbeatFromRealAlertmanager(t *testing.T) {
	alertmanagerBinary(t)
	dir := t.TempDir()
	triagedCfg := filepath.Join(dir, "triaged.yml")
	if err := os.WriteFile(triagedCfg, []byte(`incidents:
  update_interval: 0s
  resolve_hold: 0s
heartbeat:
  interval: 2s
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, app.Options{ConfigFile: triagedCfg})
	amURL := runAlertmanager(t, dir, fmt.Sprintf(`route:
  receiver: triaged
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 300ms
  repeat_interval: 300ms # Alertmanager resends the Watchdog this often: well under the interval
receivers:
  - name: triaged
    webhook_configs:
      - url: %s/api/v1/alerts
        send_resolved: true
`, r.url))

	// watchdog is Prometheus evaluating the always-firing rule (firing) or no longer (stopped).
	watchdog := func(firing bool) {
		t.Helper()
		endsAt := time.Now().UTC().Add(time.Hour)
		if !firing {
			endsAt = time.Now().UTC().Add(-time.Second)
		}
		body := fmt.Sprintf(`[{"labels":{"alertname":"Watchdog","severity":"none"},"annotations":{"summary":"the alerting pipeline works"},"startsAt":%q,"endsAt":%q}]`,
			time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), endsAt.Format(time.RFC3339))
		resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Alertmanager refused the Watchdog: %d", resp.StatusCode)
		}
	}
	reports := func(want int) string {
		t.Helper()
		testkit.Eventually(t, 15*time.Second, fmt.Sprintf("%d reports", want), func() bool {
			return reportCount(r.stdout.String()) >= want
		})
		out := r.stdout.String()
		if got := reportCount(out); got != want {
			t.Fatalf("stdout holds %d reports, want %d:\n%s", got, want, out)
		}
		return out
	}
	beats := func() float64 { return metrictest.Value(t, r.app.Registry(), "triaged_heartbeats_received_total") }

	watchdog(true)
	testkit.Eventually(t, 10*time.Second, "three heartbeats", func() bool { return beats() >= 3 })
	if n := reportCount(r.stdout.String()); n != 0 {
		t.Fatalf("heartbeats were reported:\n%s", r.stdout.String())
	}

	watchdog(false) // the rule stops
	out := reports(1)
	for _, want := range []string{"TriagedHeartbeatMissing", "no heartbeat from the alerting pipeline at " + amURL, "alerts may be lost", "P1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the opening lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Watchdog\n") || strings.Contains(out, "the alerting pipeline works") {
		t.Errorf("the Watchdog itself was reported:\n%s", out)
	}
	if age := metrictest.Value(t, r.app.Registry(), "triaged_heartbeat_age_seconds", "alertmanager", amURL); age < 2 {
		t.Errorf("triaged_heartbeat_age_seconds = %v at the opening, want over the 2s interval", age)
	}

	watchdog(true) // the rule fires again
	out = reports(2)
	if !strings.Contains(lastReport(out), "**Status**: RESOLVED") {
		t.Errorf("the second report is no resolution:\n%s", lastReport(out))
	}
}
