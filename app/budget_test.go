package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/test"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
)

// TestHugeLabelStillReported: a 700 KB group label made a report of over 2 MB (its silence and
// Alertmanager links triple it when escaped), over NATS' max payload, and an incident record
// that could not be stored: the incident never got a report. The door now refuses such a label
// by default (ingest.max_label_value_bytes); with the door opened as wide as it goes, the
// largest label that passes must still be reported within the budget.
func TestHugeLabelStillReported(t *testing.T) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce+
		"ingest:\n  max_label_value_bytes: 250000\n  max_alert_bytes: 262144\n")})
	huge := strings.Repeat("x/y=", 240<<10/4) // each '/' and '=' is three bytes in a link
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{
		"receiver": "webhook", "status": "firing", "version": "4", "groupKey": `{}:{alertname="Huge"}`,
		"externalURL": "http://127.0.0.1:19093",
		"groupLabels": map[string]string{"alertname": "Huge", "blob": huge},
		"alerts": []map[string]any{{
			"status": "firing", "startsAt": "2026-11-26T15:08:31.882Z", "endsAt": "0001-01-01T00:00:00Z",
			"labels":      map[string]string{"alertname": "Huge", "service": "checkout", "severity": "critical"},
			"annotations": map[string]string{"summary": "a group label of 240 KB"},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	r.post(t, body.Bytes())
	out := r.waitReports(t, 1)
	for _, want := range []string{
		"a group label of 240 KB",
		"- _no Alertmanager or silence link: label blob is too long for a filter (1024 bytes or more)_",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if len(out) > 64<<10 {
		t.Errorf("the report is %d bytes: the label was not bounded", len(out))
	}
}

// TestDeployFloodStillReported: 6,000 deploys of one service made its incidents' evidence, and
// so their records and reports, too big for NATS: its alerts got no report.
func TestDeployFloodStillReported(t *testing.T) {
	// The index keeps 1,000 deploys a service by default; the flood must reach the report.
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce+"enrichment:\n  deploys_max_per_service: 10000\n")})
	alertStart := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	const deploys = 6000
	subject := r.app.Config().NATS.Prefix + ".deploys.checkout"
	for i := range deploys {
		ev := fmt.Sprintf(`{"service":"checkout","environment":"prod","version":"v1.%d","commit":"%040x","author":"ci","url":"https://ci.example.com/checkout/builds/%d","time":%q}`,
			i, i, i, alertStart.Add(-time.Duration(i+1)*time.Second).Format(time.RFC3339))
		if err := r.app.Conn().Publish(subject, []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, testTimeout, "the deploy index holds the flood", func() bool {
		return metrictest.Value(t, r.app.Registry(), "triaged_deploy_index_events") >= deploys/2
	})
	r.post(t, []byte(fmt.Sprintf(`{"version":"4","status":"firing","receiver":"triaged","groupKey":"{}:{alertname=\"CheckoutErrors\"}",
"alerts":[{"status":"firing","labels":{"alertname":"CheckoutErrors","service":"checkout","env":"prod","severity":"warning"},
"annotations":{"summary":"checkout errors"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z"}]}`, alertStart.Format(time.RFC3339))))
	out := r.waitReports(t, 1)
	for _, want := range []string{
		"**suspect**: checkout (prod) `v1.0`", // the nearest deploy is kept
		"more deploys, further from the alert: not listed, to keep the report within its size budget",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%.4000s", want, out)
		}
	}
}

// An external NATS server may take less than the 1 MiB the config check assumes: the daemon
// refuses to start with a budget it cannot publish, naming the key.
func TestReportBudgetOverTheServersMaxPayload(t *testing.T) {
	opts := natsserver.DefaultTestOptions
	opts.Port, opts.JetStream, opts.StoreDir, opts.MaxPayload = -1, true, t.TempDir(), 256<<10
	ns := natsserver.RunServer(&opts)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	file := configFile(t, "report:\n  max_bytes: 262144\n")
	a, err := app.New(context.Background(), app.Options{NATSURL: ns.ClientURL(), ConfigFile: file, ListenAddress: "127.0.0.1:0", StoragePath: t.TempDir()})
	if err == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = a.Run(ctx)
		t.Fatal("started with a report budget over half the server's max payload")
	}
	want := fmt.Sprintf("%q: report.max_bytes: 262144 bytes cannot fit the NATS server's max payload of 262144 bytes", file)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}
