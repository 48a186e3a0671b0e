package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/testkit"
)

// alertmanagerBinary finds Debian's Alertmanager (prometheus-alertmanager) or an upstream build.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Alertmanager not installed; .ci/run installs Debian's prometheus-alertmanager")
	}
	t.Skip("Alertmanager not installed (apt-get install prometheus-alertmanager)")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRealAlertmanagerDeliversToTriaged posts alerts to a real Alertmanager, which routes them to
// triaged through its webhook receiver, exactly as in production; the reports must come out.
func TestRealAlertmanagerDeliversToTriaged(t *testing.T) {
	bin := alertmanagerBinary(t)
	r := start(t, app.Options{})

	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: triaged
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: triaged
    webhook_configs:
      - url: %s/api/v1/alerts
        send_resolved: true
`, r.url)
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	amURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(amURL, "http://"),
		"--web.external-url="+amURL,
		"--cluster.listen-address=", // no gossip: a single, local Alertmanager
		"--log.level=warn",
	)
	var amLog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &amLog, &amLog
	if err := cmd.Start(); err != nil {
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

	startsAt := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	postAlerts := func(endsAt string) {
		t.Helper()
		var alerts []string
		for _, svc := range []string{"checkout", "payments"} {
			a := fmt.Sprintf(`{"labels":{"alertname":"E2EServiceDown","service":%q,"env":"prod","severity":"critical"},"annotations":{"summary":"%s is down"},"startsAt":%q,"generatorURL":"http://prometheus.example:9090/graph"`, svc, svc, startsAt)
			if endsAt != "" {
				a += fmt.Sprintf(`,"endsAt":%q`, endsAt)
			}
			alerts = append(alerts, a+"}")
		}
		resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", strings.NewReader("["+strings.Join(alerts, ",")+"]"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Alertmanager refused the alerts: %d", resp.StatusCode)
		}
	}
	postAlerts("")
	out := r.waitReports(t, 2)
	for _, want := range []string{"checkout is down", "payments is down", "E2EServiceDown", "**Status**: INVESTIGATING", amURL + "/#/silences/new?filter="} {
		if !strings.Contains(out, want) {
			t.Errorf("reports lack %q:\n%s", want, out)
		}
	}

	postAlerts(time.Now().UTC().Add(-time.Second).Format(time.RFC3339))
	out = r.waitReports(t, 4)
	if got := strings.Count(out, "**Status**: RESOLVED"); got != 2 {
		t.Errorf("%d resolved reports, want 2:\n%s", got, out)
	}
}
