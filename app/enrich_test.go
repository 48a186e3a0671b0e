package app_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
)

// TestEnrichedReport runs the whole daemon with a service catalog whose probes and log sources
// are real servers, files and commands, records deploys through HTTP and NATS, and checks that
// the report answers the on-call engineer's first questions — and that an alert label cannot
// point a probe elsewhere.
func TestEnrichedReport(t *testing.T) {
	dir := t.TempDir()
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"db":"timeout","dsn":"postgres://app:hunter2@db:5432/shop"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(unhealthy.Close)
	var strayConnections atomic.Int64
	stray := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { strayConnections.Add(1) }))
	t.Cleanup(stray.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	logFile := filepath.Join(dir, "checkout.log")
	var logText strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&logText, "2026-11-26T15:%02d:00Z INFO request %d ok\n", i%60, i)
	}
	logText.WriteString("2026-11-26T15:08:30Z ERROR payment call failed: Authorization: Bearer eyJhbGciOi.secret.token\n")
	if err := os.WriteFile(logFile, []byte(logText.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	echo, err := lookPath("echo")
	if err != nil {
		t.Skip("no echo binary")
	}
	cfg := fmt.Sprintf(`services:
  - name: checkout
    environment: prod
    stack: Go
    owners: [alice]
    team: shop
    channel: "#inc-checkout"
    dependencies: [payments]
    probes:
      - name: health
        http: {url: %q, timeout: 2s}
      - name: db
        tcp: {address: %q, timeout: 1s}
      - name: instance
        http:
          url: 'http://{{ .Labels.instance }}/healthz'
          allow: 'http://10\.0\.0\.[0-9]+:8080/healthz'
    logs:
      - name: app
        file: {path: checkout.log, lines: 20}
      - name: journal
        command:
          argv: [%q, "ERROR upstream reset password=swordfish"]
`, unhealthy.URL, closedAddr, echo)
	file := filepath.Join(dir, "triaged.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, app.Options{ConfigFile: file})

	// A deploy of the service 10 minutes before the alert, through the HTTP API ...
	alertStart := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	deployBody := fmt.Sprintf(`{"service":"checkout","environment":"prod","version":"v2.4.1","commit":"9c1e2d4","author":"alice","time":%q}`, alertStart.Add(-10*time.Minute).Format(time.RFC3339))
	resp, err := http.Post(r.url+"/api/v1/deploys", "application/json", strings.NewReader(deployBody))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/deploys: %d %s", resp.StatusCode, readAll(t, resp))
	}
	resp.Body.Close()
	// ... and one of a dependency 90 minutes before, published on NATS by a CI job.
	depEvent := fmt.Sprintf(`{"service":"payments","environment":"prod","version":"v1.3.0","time":%q}`, alertStart.Add(-90*time.Minute).Format(time.RFC3339))
	if err := r.app.Conn().Publish(r.app.Config().NATS.Prefix+".deploys.payments", []byte(depEvent)); err != nil {
		t.Fatal(err)
	}
	// Bad deploy input is refused with the field at fault.
	resp, err = http.Post(r.url+"/api/v1/deploys", "application/json", strings.NewReader(`{"service":"a b"}`))
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "service") {
		t.Fatalf("bad deploy: %d %q", resp.StatusCode, body)
	}
	// A deploy of billing, a service the catalog does not know, 5 minutes before the alert.
	billingDeploy := fmt.Sprintf(`{"service":"billing","environment":"prod","version":"v7.0.2","time":%q}`, alertStart.Add(-5*time.Minute).Format(time.RFC3339))
	if err := r.app.Conn().Publish(r.app.Config().NATS.Prefix+".deploys.billing", []byte(billingDeploy)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, testTimeout, "the deploy index follows the stream", func() bool {
		return metrictest.Value(t, r.app.Registry(), "triaged_deploy_index_events") == 3
	})

	// The alert: its instance label tries to point the templated probe at another host.
	webhook := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"triaged","groupKey":"{}:{alertname=\"ServiceDown\"}","externalURL":"http://am:9093",
"alerts":[{"status":"firing","labels":{"alertname":"ServiceDown","service":"checkout","env":"prod","severity":"critical","instance":%q},
"annotations":{"summary":"checkout is down"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","fingerprint":"c0ffee0000000001"}]}`,
		strings.TrimPrefix(stray.URL, "http://")+"/x#", alertStart.Format(time.RFC3339))
	r.post(t, []byte(webhook))
	out := r.waitReports(t, 1)
	checkCatalogReport(t, out, strayConnections.Load())

	// An alert whose service label names a service the catalog does not know keeps that service,
	// says so, and still gets its deploys correlated.
	billing := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"triaged","groupKey":"{}:{alertname=\"BillingErrors\"}",
"alerts":[{"status":"firing","labels":{"alertname":"BillingErrors","service":"billing","env":"prod","severity":"warning"},
"annotations":{"summary":"billing errors"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","fingerprint":"c0ffee0000000002"}]}`,
		alertStart.Format(time.RFC3339))
	r.post(t, []byte(billing))
	all := r.waitReports(t, 2)
	out = lastReport(all)
	for _, want := range []string{
		"**Affected**: billing in prod (service from label service; not in the service catalog)",
		"**suspect**: billing (prod) `v7.0.2`",
		"No service of the catalog matches this alert",
		"Health probes: _not collected: the service is not in the service catalog",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report of a service outside the catalog lacks %q:\n%s", want, out)
		}
	}
}

// checkCatalogReport checks the report of the catalog service checkout.
func checkCatalogReport(t *testing.T, out string, strayConnections int64) {
	t.Helper()

	for _, want := range []string{
		"**Affected**: checkout in prod (service from the service catalog, label service); depends on payments",
		"**Stack**: Go",
		"- Engineers: alice",
		"**suspect**: checkout (prod) `v2.4.1` commit `9c1e2d4` by alice",
		"payments (prod) `v1.3.0`",
		"Probe `health` **FAILED**",
		"503",
		"Probe `db` **FAILED**",
		"Probe `instance` **FAILED**",
		"target refused",
		"ERROR payment call failed",
		"ERROR upstream reset",
		"Service Down",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, secret := range []string{"hunter2", "eyJhbGciOi.secret.token", "swordfish"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q reached the report", secret)
		}
	}
	if n := strayConnections; n != 0 {
		t.Errorf("the probe contacted the host named by an alert label (%d requests)", n)
	}
	if !strings.Contains(out, "**Severity**: P1") {
		t.Errorf("a critical production outage with failing probes should be P1:\n%s", out)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("report:\n%s", out)
	}
}

func lookPath(name string) (string, error) {
	for _, dir := range []string{"/bin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}
