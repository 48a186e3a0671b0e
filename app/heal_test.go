package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/testkit"
)

// TestTriageHealsItself: a consumer, stream or bucket deleted under a running triaged makes
// /-/ready 503, naming it, until it is recreated; the alerts sent after are reported.
func TestTriageHealsItself(t *testing.T) {
	names := broker.MustNames("triaged")
	tests := []struct {
		name    string
		delete  func(ctx context.Context, js jetstream.JetStream) error
		missing string
	}{
		{"triage consumer", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteConsumer(ctx, names.AlertsStream(), names.TriageConsumer())
		}, "consumer triaged-triage on TRIAGED_ALERTS"},
		{"alerts stream", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, names.AlertsStream())
		}, "stream TRIAGED_ALERTS"},
		{"reports stream", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, names.ReportsStream())
		}, "consumer triaged-sink-stdout on TRIAGED_REPORTS"},
		{"incidents bucket", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteKeyValue(ctx, names.IncidentsBucket())
		}, "bucket TRIAGED_INCIDENTS"},
		{"graphs bucket", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteKeyValue(ctx, names.GraphsBucket())
		}, "bucket TRIAGED_GRAPHS"},
		{"history stream", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, names.HistoryStream())
		}, "stream TRIAGED_HISTORY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce)})
			r.postFile(t, "firing-1-alert.json")
			r.waitReports(t, 1)
			js, err := jetstream.New(r.app.Conn())
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.delete(context.Background(), js); err != nil {
				t.Fatal(err)
			}
			// The check that finds it missing also has it recreated at once.
			if code, body := r.get(t, "/-/ready"); code != 503 || !strings.Contains(body, tt.missing) {
				t.Errorf("/-/ready after deleting the %s: %d %q, want 503 naming %q", tt.name, code, body, tt.missing)
			}
			testkit.Eventually(t, 10*time.Second, "ready again", func() bool {
				code, _ := r.get(t, "/-/ready")
				return code == 200
			})
			r.postFile(t, "firing-3-alerts.json")
			r.waitReports(t, 2)
		})
	}
}
