package triaged_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
)

// webhookOf wraps alerts (JSON objects) in a webhook with the given group fields.
func webhookOf(group string, alerts ...string) []byte {
	if group != "" {
		group += ","
	}
	return []byte(`{"version":"4",` + group + `"alerts":[` + strings.Join(alerts, ",") + `]}`)
}

func alertWith(labels, annotations string) string {
	if annotations != "" {
		annotations = `,"annotations":{` + annotations + `}`
	}
	return `{"status":"firing","labels":{"alertname":"A"` + labels + `},"startsAt":"2026-11-26T15:08:31Z"` + annotations + `}`
}

func pairs(n int, prefix string, size int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `,"%s%d":"%s"`, prefix, i, strings.Repeat("v", size))
	}
	return b.String()
}

// What can never be stored is refused whole, naming the field and the limit; it used to be
// accepted, and a message over NATS' maximum payload got 503 from every retry.
func TestLimitsRefuseWhatCanNeverBeStored(t *testing.T) {
	lim := triaged.Limits{Alerts: 3, AlertBytes: 4096, Labels: 8, Annotations: 4, NameBytes: 32, LabelValueBytes: 256, AnnotationValueBytes: 1024}
	ok := alertWith("", "")
	tests := []struct {
		name   string
		body   []byte
		reason string
	}{
		{"too many alerts", webhookOf("", ok, ok, ok, ok), "alerts: 4 alerts, limit 3: set max_alerts on Alertmanager's webhook receiver below it"},
		{"too many labels", webhookOf("", ok, alertWith(pairs(8, "l", 1), "")), "alerts[1].labels: 9 labels, limit 8"},
		{"label value too long", webhookOf("", ok, ok, alertWith(`,"foo":"`+strings.Repeat("x", 700)+`","zz":"`+strings.Repeat("x", 300)+`"`, "")), "alerts[2].labels.foo: value is 700 bytes, limit 256"},
		{"label name too long", webhookOf("", alertWith(`,"`+strings.Repeat("n", 40)+`":"v"`, "")), "alerts[0].labels: a name of 40 bytes, limit 32"},
		{"label name not an identifier", webhookOf("", alertWith(`,"a b\n":"`+strings.Repeat("x", 300)+`"`, "")), `alerts[0].labels["a b\n"]: value is 300 bytes, limit 256`},
		{"too many annotations", webhookOf("", alertWith("", pairs(5, "a", 1)[1:])), "alerts[0].annotations: 5 annotations, limit 4"},
		{"annotation value too long", webhookOf("", alertWith("", `"description":"`+strings.Repeat("x", 1025)+`"`)), "alerts[0].annotations.description: value is 1025 bytes, limit 1024"},
		{"alert too large", webhookOf("", alertWith("", pairs(4, "a", 1020)[1:])), "alerts[0]: labels, annotations and generatorURL take 4125 bytes as JSON, limit 4096"},
		// Control characters take six bytes each as stored.
		{"alert too large as stored", webhookOf("", alertWith(pairs(6, "l", 0)+`,"c":"`+strings.Repeat(`\u0001`, 200)+`"`, pairs(3, "a", 1000)[1:])), "alerts[0]: labels, annotations and generatorURL take 4286 bytes as JSON, limit 4096"},
		{"generatorURL too long", webhookOf("", strings.Replace(ok, `"status"`, `"generatorURL":"http://x/`+strings.Repeat("g", 5000)+`","status"`, 1)), "alerts[0]: labels, annotations and generatorURL take 5026 bytes as JSON, limit 4096"},
		{"commonLabels value too long", webhookOf(`"commonLabels":{"foo":"`+strings.Repeat("x", 257)+`"}`, ok), "commonLabels.foo: value is 257 bytes, limit 256"},
		{"too many groupLabels", webhookOf(`"groupLabels":{`+pairs(9, "g", 1)[1:]+`}`, ok), "groupLabels: 9 labels, limit 8"},
		{"group context too large", webhookOf(`"groupKey":"`+strings.Repeat("k", 5000)+`"`, ok), "group: receiver, status, groupKey, groupLabels, commonLabels and externalURL take 5008 bytes as JSON, limit 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lim.Decode(tt.body, time.Now())
			var le *triaged.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Decode: %v, want a *LimitError", err)
			}
			if err.Error() != tt.reason {
				t.Errorf("Decode:\n got %s\nwant %s", err, tt.reason)
			}
		})
	}
	// Just at the limits passes, and an invalid alert is a validation error, not a limit.
	if _, err := lim.Decode(webhookOf("", ok, ok, alertWith(pairs(7, "l", 256), pairs(2, "a", 1024)[1:])), time.Now()); err != nil {
		t.Errorf("at the limits: %v", err)
	}
	var le *triaged.LimitError
	if _, err := lim.Decode(webhookOf("", `{"status":"x"}`), time.Now()); err == nil || errors.As(err, &le) {
		t.Errorf("invalid alert: %v, want a validation error", err)
	}
}

// The default limits take every alert of the real-world corpus, all in one webhook.
func TestDefaultLimitsTakeTheRealWorldCorpus(t *testing.T) {
	alerts, err := os.ReadFile("testdata/alert-corpus/alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(alerts, &list); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.WriteString(`{"version":"4","status":"firing","receiver":"r","groupKey":"{}:{}","alerts":`)
	body.Write(alerts)
	body.WriteString(`}`)
	b, err := triaged.DecodeWebhook(body.Bytes(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Alerts) != len(list) {
		t.Fatalf("%d alerts decoded of %d", len(b.Alerts), len(list))
	}
}
