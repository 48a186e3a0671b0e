package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
)

type running struct {
	app    *app.App
	url    string
	stdout *testkit.SyncBuffer
	stop   func() error
}

// start runs a whole triaged on a free loopback port and waits until it is ready.
func start(t *testing.T, o app.Options) *running {
	t.Helper()
	if o.ListenAddress == "" {
		o.ListenAddress = "127.0.0.1:0"
	}
	if o.StoragePath == "" {
		o.StoragePath = t.TempDir()
	}
	out := &testkit.SyncBuffer{}
	o.Stdout = out
	if testing.Verbose() && o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, o)
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	r := &running{app: a, url: "http://" + a.Addr().String() + a.RoutePrefix(), stdout: out, stop: stop}
	testkit.Eventually(t, 10*time.Second, "triaged ready", func() bool {
		resp, err := http.Get(r.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

const testTimeout = 10 * time.Second

// configFile writes a config for one test and returns its path.
func configFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "triaged.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// reportAtOnce is a config under which every change of an incident is reported when it happens:
// no coalescing of updates, no resolve hold.
const reportAtOnce = "incidents:\n  update_interval: 0s\n  resolve_hold: 0s\n"

func (r *running) postFile(t *testing.T, name string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("../testdata/alertmanager", name))
	if err != nil {
		t.Fatal(err)
	}
	r.post(t, body)
}

func (r *running) post(t *testing.T, body []byte) {
	t.Helper()
	resp, err := http.Post(r.url+"/api/v1/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("webhook: %d %s", resp.StatusCode, b)
	}
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(r.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReports waits until the stdout sink printed want reports and triaged has handled every
// alert and delivered every report, then returns what the sink printed, which must hold exactly
// want reports: nothing is left that could print another.
func (r *running) waitReports(t *testing.T, want int) string {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, fmt.Sprintf("%d reports printed", want), func() bool {
		return reportCount(r.stdout.String()) >= want
	})
	r.settled(t)
	out := r.stdout.String()
	if got := reportCount(out); got != want {
		t.Fatalf("stdout holds %d reports, want %d:\n%s", got, want, out)
	}
	return out
}

// reportCount counts the reports the stdout sink printed by their footers, one per report.
func reportCount(out string) int { return strings.Count(out, "\n_Report `") }

// lastReport is the last report the stdout sink printed.
func lastReport(out string) string {
	reports := strings.Split(strings.TrimRight(out, "\n-"), strings.Repeat("-", 80))
	return reports[len(reports)-1]
}

// settled waits until the triage consumer and every sink's consumer have nothing undelivered,
// unacknowledged or waiting to be delivered again.
func (r *running) settled(t *testing.T) {
	t.Helper()
	names := broker.MustNames(r.app.Config().NATS.Prefix)
	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	// Triage first: it publishes its reports before it acknowledges, so once it is idle the
	// sinks' consumers have every report to account for.
	consumers := [][2]string{{names.AlertsStream(), names.TriageConsumer()}}
	for _, s := range r.app.Config().Sinks {
		consumers = append(consumers, [2]string{names.ReportsStream(), names.SinkConsumer(s.Name)})
	}
	testkit.Eventually(t, 15*time.Second, "every alert triaged and every report delivered", func() bool {
		for _, c := range consumers {
			if idle, err := natstest.Idle(context.Background(), js, c[0], c[1]); err != nil || !idle {
				return false
			}
		}
		return true
	})
}

func TestWebhookToReportEndToEnd(t *testing.T) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce)})
	r.postFile(t, "firing-3-alerts.json")
	out := r.waitReports(t, 1) // one group, one incident
	for _, want := range []string{"127.0.0.1:19991", "127.0.0.1:19992", "127.0.0.1:19993", "**Status**: INVESTIGATING", "payments-api",
		"no deploys of payments-api to staging in the 2h before the alert", // negative evidence is a finding
	} {
		if !strings.Contains(out, want) {
			t.Errorf("reports lack %q", want)
		}
	}
	r.postFile(t, "firing-3-alerts.json") // Alertmanager resends the group
	r.postFile(t, "resolved-3-alerts.json")
	out = r.waitReports(t, 2)
	if got := strings.Count(out, "**Status**: RESOLVED"); got != 1 {
		t.Errorf("%d resolved reports, want 1", got)
	}

	// The API shows the incident, its two reports, and the last as Markdown.
	code, list := r.get(t, "/api/v1/incidents?state=resolved")
	var incidents struct {
		Incidents []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(list), &incidents); code != 200 || err != nil || len(incidents.Incidents) != 1 || incidents.Incidents[0].State != "resolved" {
		t.Fatalf("GET /api/v1/incidents: %d %v %s", code, err, list)
	}
	id := incidents.Incidents[0].ID
	if code, body := r.get(t, "/api/v1/incidents/"+id); code != 200 || strings.Count(body, `"event":"opened"`) < 1 || !strings.Contains(body, `"event":"resolved"`) {
		t.Errorf("GET /api/v1/incidents/%s: %d %s", id, code, body)
	}
	if code, body := r.get(t, "/api/v1/incidents/"+id+"/report.md"); code != 200 || !strings.Contains(body, "**Status**: RESOLVED") {
		t.Errorf("GET /api/v1/incidents/%s/report.md: %d %s", id, code, body)
	}
	if code, body := r.get(t, "/api/v1/incidents/"+id+"/postmortem.md"); code != 200 || !strings.Contains(body, "Postmortem") || !strings.Contains(body, "Timeline") {
		t.Errorf("GET /api/v1/incidents/%s/postmortem.md: %d %s", id, code, body)
	}

	for path, want := range map[string]string{"/-/healthy": "Healthy", "/-/ready": "Ready", "/": `href="/rules"`} {
		if code, body := r.get(t, path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %q", path, code, body)
		}
	}
	if code, body := r.get(t, "/api/v1/alerts"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v1/alerts: %d %q, want 405", code, body)
	}

	_, metrics := r.get(t, "/metrics")
	for _, want := range []string{
		`triaged_alerts_received_total{status="firing"} 6`,
		`triaged_alerts_received_total{status="resolved"} 3`,
		`triaged_webhook_requests_total{code="200"} 3`,
		`triaged_reports_published_total{event="opened",severity=`,
		`triaged_reports_published_total{event="resolved",severity=`,
		`triaged_triage_latency_seconds_count{event="opened",severity="P2"} 1`,
		`triaged_triage_latency_seconds_count{event="resolved",severity="P2"} 1`,
		`triaged_alerts_deduplicated_total 3`,
		`triaged_alert_age_at_first_report_seconds_count 1`,
		`triaged_incidents_open{severity="P1"} 0`,
		`triaged_triage_stage_duration_seconds_bucket{stage="classify"`,
		`triaged_alerts_skipped_total{reason="unchanged"} 0`,
		`triaged_notifications_total{result="success",sink="stdout"} 2`,
		`triaged_build_info{`,
		`triaged_rules_last_reload_successful 1`,
		`triaged_workers 16`,
		`go_goroutines `,
		`process_cpu_seconds_total `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	checkMetricsWithPromtool(t, metrics)

	if err := r.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := http.Get(r.url + "/-/healthy"); err == nil {
		t.Errorf("HTTP still served after shutdown")
	}
}

// checkMetricsWithPromtool runs Prometheus' own linter on the exposition, as the issue asks.
func checkMetricsWithPromtool(t *testing.T, metrics string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool not installed; .ci/run installs it")
		}
		t.Log("promtool not installed: skipping promtool check metrics")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(metrics)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestRestartDoesNotReportTwice(t *testing.T) {
	storage := t.TempDir()
	cfg := configFile(t, reportAtOnce)
	r := start(t, app.Options{StoragePath: storage, ConfigFile: cfg})
	r.postFile(t, "firing-1-alert.json")
	r.waitReports(t, 1)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	r = start(t, app.Options{StoragePath: storage, ConfigFile: cfg})
	firing, err := os.ReadFile(filepath.Join("../testdata/alertmanager", "firing-1-alert.json"))
	if err != nil {
		t.Fatal(err)
	}
	r.post(t, firing) // a resend: absorbed
	r.post(t, []byte(strings.ReplaceAll(string(firing), `"status":"firing"`, `"status":"resolved"`)))
	out := r.waitReports(t, 1)
	if !strings.Contains(out, "AlwaysFiring") || !strings.Contains(out, "**Status**: RESOLVED") {
		t.Fatalf("after a restart, want only the resolution of the incident opened before it:\n%s", out)
	}
}

func TestBadConfigRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "triaged.yml")
	if err := os.WriteFile(file, []byte("triage:\n  workers: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := app.New(context.Background(), app.Options{ConfigFile: file, ListenAddress: "127.0.0.1:0", StoragePath: dir})
	want := fmt.Sprintf("loading %q: %s:2:12: triage.workers: 0 is out of range 1..4096", file, file)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// TestConnectionCap: connections beyond --web.max-connections wait to be accepted instead of
// each costing a goroutine and buffers.
func TestConnectionCap(t *testing.T) {
	r := start(t, app.Options{MaxConnections: 1})
	held, err := net.Dial("tcp", r.app.Addr().String()) // takes the only slot and says nothing
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Get(r.url + "/-/healthy"); err == nil {
		resp.Body.Close()
		t.Fatal("a second connection was served while the only one was held")
	}
	held.Close()
	testkit.Eventually(t, 5*time.Second, "served again once the slot is free", func() bool {
		resp, err := client.Get(r.url + "/-/healthy")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// TestStoragePathIsOneDaemons: a second daemon on the same --storage.path is refused at once, and
// an unwritable one fails at once with a message that names it.
func TestStoragePathIsOneDaemons(t *testing.T) {
	storage := t.TempDir()
	start(t, app.Options{StoragePath: storage})
	_, err := app.New(context.Background(), app.Options{ListenAddress: "127.0.0.1:0", StoragePath: storage})
	if err == nil || !strings.Contains(err.Error(), "is in use by another triaged") {
		t.Fatalf("second daemon on one storage path: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere: the unwritable case cannot be shown")
	}
	readonly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readonly, 0o500); err != nil {
		t.Fatal(err)
	}
	if _, err := app.New(context.Background(), app.Options{ListenAddress: "127.0.0.1:0", StoragePath: readonly}); err == nil || !strings.Contains(err.Error(), "--storage.path") {
		t.Fatalf("unwritable storage path: %v", err)
	}
}
