package triaged_test

import (
	"testing"
	"time"

	"github.com/triaged/triaged"
)

// BenchmarkWebhookToMessages is ingest's CPU work per webhook: decode and validate a 10-alert
// webhook and encode its 10 alert messages.
func BenchmarkWebhookToMessages(b *testing.B) {
	body := readPayload(b, "firing-10-alerts.json")
	received := time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		batch, err := triaged.DecodeWebhook(body, received)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := batch.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
