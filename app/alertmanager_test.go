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
	"github.com/triaged/triaged/internal/metrictest"
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
// triaged through its webhook receiver, exactly as in production, with a bearer token from a
// credentials_file: a group of three is one incident, opened, updated when one recovers,
// resolved, and reopened when it fires again.
func TestRealAlertmanagerDeliversToTriaged(t *testing.T) {
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	triagedCfg := filepath.Join(dir, "triaged.yml")
	if err := os.WriteFile(triagedCfg, []byte("incidents:\n  update_interval: 0s # every change reported at once\n  resolve_hold: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "triaged.token")
	if err := os.WriteFile(token, []byte("e2e-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, app.Options{ConfigFile: triagedCfg, AuthTokenFiles: []string{token}})

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
        http_config:
          authorization:
            type: Bearer
            credentials_file: %s
`, r.url, token)
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

	// Started now, not in the past: Alertmanager flushes a new group at once, without its
	// group_wait, when startsAt+group_wait has passed, and would then send the first of the three
	// alone (it did, in CI).
	startsAt := time.Now().UTC().Format(time.RFC3339Nano)
	// post sends Alertmanager the instances' alerts, resolved ones with an end in the past.
	post := func(start string, firing []string, resolved ...string) {
		t.Helper()
		var alerts []string
		add := func(inst, endsAt string) {
			a := fmt.Sprintf(`{"labels":{"alertname":"E2ETargetDown","instance":%q,"service":"checkout","env":"prod","severity":"critical"},"annotations":{"summary":"%s is down"},"startsAt":%q,"generatorURL":"http://prometheus.example:9090/graph"`, inst, inst, start)
			if endsAt != "" {
				a += fmt.Sprintf(`,"endsAt":%q`, endsAt)
			}
			alerts = append(alerts, a+"}")
		}
		for _, inst := range firing {
			add(inst, "")
		}
		for _, inst := range resolved {
			add(inst, time.Now().UTC().Add(-100*time.Millisecond).Format(time.RFC3339Nano))
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
	last := lastReport

	// A group of three: one incident.
	post(startsAt, []string{"api-1", "api-2", "api-3"})
	out := r.waitReports(t, 1)
	for _, want := range []string{"api-1 is down", "E2ETargetDown", "api-3", "**Status**: INVESTIGATING", amURL + "/#/silences/new?filter="} {
		if !strings.Contains(out, want) {
			t.Errorf("the opening lacks %q:\n%s", want, out)
		}
	}
	// One recovers: one update that says so.
	post(startsAt, []string{"api-2", "api-3"}, "api-1")
	out = r.waitReports(t, 2)
	if !strings.Contains(last(out), "1 of 3 recovered (api-1), 2 still firing") {
		t.Errorf("the update does not say what changed:\n%s", last(out))
	}
	// The rest recover: one resolution.
	post(startsAt, nil, "api-2", "api-3")
	out = r.waitReports(t, 3)
	if !strings.Contains(last(out), "**Status**: RESOLVED") {
		t.Errorf("the third report is no resolution:\n%s", last(out))
	}
	// It fires again within the reopen window: the same incident, reopened.
	post(time.Now().UTC().Format(time.RFC3339Nano), []string{"api-1"})
	out = r.waitReports(t, 4)
	if !strings.Contains(last(out), "fired again") {
		t.Errorf("the fourth report does not say the incident fired again:\n%s", last(out))
	}
	ids := map[string]bool{}
	for _, part := range strings.Split(out, "of incident `")[1:] {
		id, _, _ := strings.Cut(part, "`")
		ids[id] = true
	}
	if len(ids) != 1 {
		t.Errorf("the group's reports name %d incidents, want 1: %v", len(ids), ids)
	}
	if n := metrictest.Value(t, r.app.Registry(), "triaged_http_unauthorized_requests_total"); n != 0 {
		t.Errorf("%v of Alertmanager's webhooks refused as unauthorized", n)
	}
}
