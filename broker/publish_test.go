package broker

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/notify/webhook"

	"github.com/triaged/triaged"
)

// The spliced encoding must say exactly what encoding a whole triaged.Alert says, or triage
// would read something other than what ingest meant.
func TestSplicedEncodingEqualsPlainEncoding(t *testing.T) {
	for _, f := range []string{"firing-3-alerts.json", "firing-mixed-1-resolved-2-firing.json"} {
		body, err := os.ReadFile("../testdata/alertmanager/" + f)
		if err != nil {
			t.Fatal(err)
		}
		var msg webhook.Message
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Fatal(err)
		}
		b := &triaged.Batch{
			Group:      triaged.Group{Receiver: msg.Receiver, Key: msg.GroupKey, Labels: msg.GroupLabels, CommonLabels: msg.CommonLabels, ExternalURL: msg.ExternalURL, Size: len(msg.Alerts), TruncatedAlerts: 2},
			ReceivedAt: time.Date(2026, 11, 26, 16, 1, 2, 345, time.UTC),
			Alerts:     msg.Alerts,
		}
		tail, err := messageTail(b)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range b.Split() {
			want, _ := json.Marshal(&a)
			got, err := encodeAlert(&b.Alerts[i], tail)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s alert %d:\n got %s\nwant %s", f, i, got, want)
			}
			var back triaged.Alert
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Group, a.Group) || !back.ReceivedAt.Equal(a.ReceivedAt) || back.Fingerprint != a.Fingerprint {
				t.Fatalf("%s alert %d does not round-trip: %+v", f, i, back)
			}
		}
	}
}
