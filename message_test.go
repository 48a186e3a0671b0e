package triaged_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
)

const payloads = "testdata/alertmanager"

func readPayload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(payloads, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reference is a captured webhook read without our types, field by field under the JSON names
// Alertmanager writes, so a wrong tag on Webhook or Group cannot hide.
type reference struct {
	Version         string            `json:"version"`
	GroupKey        string            `json:"groupKey"`
	TruncatedAlerts uint64            `json:"truncatedAlerts"`
	Receiver        string            `json:"receiver"`
	Status          string            `json:"status"`
	GroupLabels     map[string]string `json:"groupLabels"`
	CommonLabels    map[string]string `json:"commonLabels"`
	ExternalURL     string            `json:"externalURL"`
	Alerts          []struct {
		Status      string            `json:"status"`
		Fingerprint string            `json:"fingerprint"`
		Labels      map[string]string `json:"labels"`
		StartsAt    time.Time         `json:"startsAt"`
	} `json:"alerts"`
}

func TestDecodeEveryCapturedPayload(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(payloads, "*-*.json"))
	if len(files) < 6 {
		t.Fatalf("found %d captured payloads, want the 6 of testdata/alertmanager", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body := readPayload(t, filepath.Base(f))
			var ref reference
			if err := json.Unmarshal(body, &ref); err != nil {
				t.Fatal(err)
			}
			var w triaged.Webhook
			if err := json.Unmarshal(body, &w); err != nil {
				t.Fatal(err)
			}
			if w.Version != ref.Version || w.GroupKey != ref.GroupKey || w.TruncatedAlerts != ref.TruncatedAlerts || w.Receiver != ref.Receiver || w.ExternalURL != ref.ExternalURL {
				t.Errorf("Webhook reads %+v, want the payload's %+v", w, ref)
			}
			received := time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)
			batch, err := triaged.DecodeWebhook(body, received)
			if err != nil {
				t.Fatalf("DecodeWebhook: %v", err)
			}
			alerts := batch.Split()
			if len(alerts) != len(ref.Alerts) {
				t.Fatalf("got %d alerts, want %d", len(alerts), len(ref.Alerts))
			}
			ids := map[string]bool{}
			for i, a := range alerts {
				want := ref.Alerts[i]
				if a.Fingerprint != want.Fingerprint || a.Status != want.Status || !a.StartsAt.Equal(want.StartsAt) || !reflect.DeepEqual(map[string]string(a.Labels), want.Labels) {
					t.Errorf("alert %d: got %s/%s, want %s/%s", i, a.Fingerprint, a.Status, want.Fingerprint, want.Status)
				}
				g := a.Group
				if g.Receiver != ref.Receiver || g.Status != ref.Status || g.Key != ref.GroupKey || g.ExternalURL != ref.ExternalURL || g.Size != len(ref.Alerts) || g.TruncatedAlerts != ref.TruncatedAlerts {
					t.Errorf("alert %d: group context %+v does not match the webhook", i, g)
				}
				if !reflect.DeepEqual(map[string]string(g.Labels), ref.GroupLabels) || !reflect.DeepEqual(map[string]string(g.CommonLabels), ref.CommonLabels) {
					t.Errorf("alert %d: group labels lost", i)
				}
				if !a.ReceivedAt.Equal(received) {
					t.Errorf("alert %d: receivedAt %v", i, a.ReceivedAt)
				}
				if ids[a.MsgID()] {
					t.Errorf("alert %d: message id %s repeats within one webhook", i, a.MsgID())
				}
				ids[a.MsgID()] = true
			}
		})
	}
}

// A notification goes on the stream as messages of at most MaxMessageBytes of its
// group, and reads back as what was meant.
func TestEncodeSplitsTheGroupAndDecodesBack(t *testing.T) {
	for _, f := range []string{"firing-3-alerts.json", "firing-mixed-1-resolved-2-firing.json"} {
		b, err := triaged.DecodeWebhook(readPayload(t, f), time.Date(2026, 11, 26, 16, 1, 2, 345, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		b.Group.TruncatedAlerts = 2
		msgs, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || msgs[0].Alerts != len(b.Alerts) || msgs[0].Status != b.Group.Status || msgs[0].Group != b.Group.Key {
			t.Fatalf("%s: %+v, want one message of the whole group", f, msgs)
		}
		back, err := triaged.DecodeBatch(msgs[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Group, b.Group) || !back.ReceivedAt.Equal(b.ReceivedAt) || len(back.Alerts) != len(b.Alerts) ||
			back.Alerts[1].Fingerprint != b.Alerts[1].Fingerprint || !reflect.DeepEqual(back.Alerts[1].Labels, b.Alerts[1].Labels) {
			t.Fatalf("%s does not round-trip: %+v", f, back)
		}
	}
	// A large group is several messages, each with the group and filled up to MaxMessageBytes;
	// the same group in the same states has the same ids, and a changed alert changes its
	// message's id.
	big := &triaged.Batch{Group: triaged.Group{Receiver: "r", Key: "k"}}
	for i := range 160 {
		big.Alerts = append(big.Alerts, template.Alert{Status: "firing", Labels: template.KV{"i": fmt.Sprint(i)}, Annotations: template.KV{"description": strings.Repeat("x", 4<<10)}, StartsAt: time.Unix(0, 0), Fingerprint: fmt.Sprintf("%016x", i)})
	}
	msgs, _ := big.Encode()
	alerts := 0
	for i, m := range msgs {
		if len(m.Data) > triaged.MaxMessageBytes {
			t.Errorf("message %d takes %d bytes, over %d", i, len(m.Data), triaged.MaxMessageBytes)
		}
		if back, err := triaged.DecodeBatch(m.Data); err != nil || len(back.Alerts) != m.Alerts || back.Alerts[0].Labels["i"] != fmt.Sprint(alerts) {
			t.Fatalf("message %d does not read back as its %d alerts from %d: %v", i, m.Alerts, alerts, err)
		}
		alerts += m.Alerts
	}
	if len(msgs) != 2 || alerts != 160 || msgs[0].Status != triaged.StatusFiring {
		t.Fatalf("160 alerts of 4 KiB: %d messages of %d alerts, want 2 of them all", len(msgs), alerts)
	}
	again, _ := big.Encode()
	big.Alerts[159].Status = triaged.StatusResolved
	changed, _ := big.Encode()
	if again[1].MsgID != msgs[1].MsgID || changed[1].MsgID == msgs[1].MsgID || changed[0].MsgID != msgs[0].MsgID {
		t.Error("message ids do not follow the alerts' states")
	}
}

// Each message repeats the group's context: what is stored must stay a small multiple of the
// webhook however its bytes are shared between the context and the alerts. Before, a message of
// at most 100 alerts each carried the context, so a large context and many small alerts stored
// the context once per 100 alerts.
func TestEncodeStoresASmallMultipleOfTheWebhook(t *testing.T) {
	lim := triaged.DefaultLimits()
	ctx := template.KV{}
	for i := range 7 { // just under the context's limit
		ctx[fmt.Sprintf("l%d", i)] = strings.Repeat("c", lim.LabelValueBytes)
	}
	tests := []struct {
		name    string
		alerts  int
		payload int // bytes of an annotation in each alert
	}{
		{"large context, small alerts", 1500, 0},
		{"large context, alerts of 1 KiB", 500, 1 << 10},
		{"large context, alerts near the limit", 8, lim.AlertBytes - 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := map[string]any{"version": "4", "status": "firing", "receiver": "r", "groupKey": "k", "commonLabels": ctx, "groupLabels": template.KV{}}
			var alerts []any
			for i := range tt.alerts {
				a := map[string]any{"status": "firing", "labels": map[string]string{"i": fmt.Sprint(i)}, "startsAt": "2026-11-26T15:08:31Z"}
				ann := map[string]string{}
				for left := tt.payload; left > 0; left -= lim.AnnotationValueBytes / 2 {
					ann[fmt.Sprint(left)] = strings.Repeat("d", min(left, lim.AnnotationValueBytes/2))
				}
				a["annotations"] = ann
				alerts = append(alerts, a)
			}
			w["alerts"] = alerts
			body, _ := json.Marshal(w)
			b, err := triaged.DecodeWebhook(body, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			stored := 0
			for _, m := range msgs {
				stored += len(m.Data)
				if len(m.Data) > 2*triaged.MaxAlertBytes+1024 {
					t.Errorf("a message of %d bytes, beyond what NATS takes", len(m.Data))
				}
			}
			// Minimal alerts take twice their size as stored (every field of the alert is
			// written, as Alertmanager itself writes them).
			if stored > 3*len(body) {
				t.Errorf("a webhook of %d bytes became %d messages of %d bytes: %.1f times", len(body), len(msgs), stored, float64(stored)/float64(len(body)))
			}
		})
	}
}

// An alert is judged by one rule, whether it comes in a webhook or as a message: the webhook's
// reason is the alert's, prefixed with its index.
func TestWebhookAndMessageRefuseTheSameAlerts(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		name, alert, reason string
	}{
		{"bad status", `{"status":"burning","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z"}`, `status: "burning" is neither "firing" nor "resolved"`},
		{"no status", `{"labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z"}`, `status: "" is neither "firing" nor "resolved"`},
		{"no labels", `{"status":"firing","labels":{},"startsAt":"2026-11-26T15:08:31Z"}`, "labels: empty: an alert is identified by its labels"},
		{"no startsAt", `{"status":"firing","labels":{"a":"b"}}`, "startsAt: missing"},
		// A report of these could never be encoded: they were accepted and retried forever.
		{"startsAt before year 1 in UTC", `{"status":"firing","labels":{"a":"b"},"startsAt":"0000-01-01T00:30:00+01:00"}`, "startsAt: 0000-01-01T00:30:00+01:00 is outside years 0001–9999 in UTC"},
		{"startsAt in year 0", `{"status":"firing","labels":{"a":"b"},"startsAt":"0000-06-01T00:00:00Z"}`, "startsAt: 0000-06-01T00:00:00Z is outside years 0001–9999 in UTC"},
		{"startsAt after year 9999 in UTC", `{"status":"firing","labels":{"a":"b"},"startsAt":"9999-12-31T23:30:00-01:00"}`, "startsAt: 9999-12-31T23:30:00-01:00 is outside years 0001–9999 in UTC"},
		{"endsAt before year 1 in UTC", `{"status":"resolved","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z","endsAt":"0001-01-01T00:00:00+00:01"}`, "endsAt: 0001-01-01T00:00:00+00:01 is outside years 0001–9999 in UTC"},
		// encoding/json gives no place for these: the time's own error said neither alert nor field.
		{"startsAt not a time", `{"status":"firing","labels":{"a":"b"},"startsAt":"not a time"}`, `startsAt: "not a time" is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)`},
		{"startsAt in year 10000", `{"status":"firing","labels":{"a":"b"},"startsAt":"10000-01-01T00:00:00Z"}`, `startsAt: "10000-01-01T00:00:00Z" is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)`},
		{"startsAt twice, the first bad", `{"status":"firing","labels":{"a":"b"},"startsAt":"15: 8","startsAt":"2026-11-26T15:08:31Z"}`, `startsAt: "15: 8" is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)`},
		{"endsAt a number", `{"status":"resolved","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z","endsAt":5}`, "endsAt: want an RFC 3339 time as a JSON string, got a JSON number"},
		{"hostile fingerprint", `{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z","fingerprint":"x.>"}`, `fingerprint: "x.>" is not hexadecimal`},
		{"path in fingerprint", `{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z","fingerprint":"../x"}`, `fingerprint: "../x" is not hexadecimal`},
		{"fingerprint too long", `{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z","fingerprint":"` + long + `"}`, `fingerprint: "` + long + `" is not hexadecimal`},
	}
	good := `{"status":"resolved","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z","fingerprint":"47415a294d251630"}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := triaged.DecodeBatch([]byte(`{"alerts":[` + good + `,` + tt.alert + `]}`))
			if err == nil || err.Error() != "alerts[1]."+tt.reason {
				t.Errorf("DecodeBatch: %v, want alerts[1].%s", err, tt.reason)
			}
			body := `{"version":"4","alerts":[` + good + `,` + tt.alert + `]}`
			_, err = triaged.DecodeWebhook([]byte(body), time.Now())
			if err == nil || err.Error() != "alerts[1]."+tt.reason {
				t.Errorf("DecodeWebhook: %v, want alerts[1].%s", err, tt.reason)
			}
		})
	}
	for _, ok := range []string{good, `{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z"}`,
		// Alertmanager's "not ended" is the zero time, year 1.
		`{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z","endsAt":"0001-01-01T00:00:00Z"}`,
		`{"status":"firing","labels":{"a":"b"},"startsAt":"0001-01-01T00:00:01Z","endsAt":"9999-12-31T23:59:59Z"}`} {
		if _, err := triaged.DecodeBatch([]byte(`{"alerts":[` + ok + `]}`)); err != nil {
			t.Errorf("DecodeBatch(%s): %v", ok, err)
		}
	}
}

// A key given twice is decoded twice, and decoding stops at the first bad time.
func TestDecodeWebhookNamesTheFirstBadTime(t *testing.T) {
	_, err := triaged.DecodeWebhook([]byte(`{"version":"4","alerts":[{"endsAt":"x"}],"alerts":0}`), time.Now())
	if want := `alerts[0].endsAt: "x" is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)`; err == nil || err.Error() != want {
		t.Errorf("DecodeWebhook: %v, want %s", err, want)
	}
}

func TestDecodeBatchNamesABadReceivedAt(t *testing.T) {
	_, err := triaged.DecodeBatch([]byte(`{"receivedAt":"yesterday","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-26T15:08:31Z"}]}`))
	if want := `receivedAt: "yesterday" is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)`; err == nil || err.Error() != want {
		t.Errorf("DecodeBatch: %v, want %s", err, want)
	}
}

func TestDecodeWebhookRefusesWhatIsNoWebhook(t *testing.T) {
	tests := []struct{ body, reason string }{
		{`{"version":"4","alerts":[{"status":"firing"`, "malformed webhook JSON: line 1, column 44: unexpected end of JSON input"},
		{"{\n  \"alerts\": 3}", "malformed webhook JSON: line 2, column 14: json: cannot unmarshal number"},
		{`{"hello":"world"}`, `not an Alertmanager webhook: no "version" field`},
		{`[1,2]`, "malformed webhook JSON"},
		{`{"version":"3","alerts":[]}`, `unsupported webhook version "3": want "4"`},
		{`{"version":"4","status":"firing","alerts":[]}`, `not an Alertmanager webhook: "alerts" is empty or missing`},
		{`{"version":"4"}`, `not an Alertmanager webhook: "alerts" is empty or missing`},
	}
	for _, tt := range tests {
		_, err := triaged.DecodeWebhook([]byte(tt.body), time.Now())
		if err == nil || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("DecodeWebhook(%s): %v, want %q", tt.body, err, tt.reason)
		}
	}
	if _, err := triaged.DecodeBatch([]byte(`{"alerts":`)); err == nil || !strings.HasPrefix(err.Error(), "malformed notification JSON: line 1, column 11") {
		t.Errorf("DecodeBatch of cut JSON: %v", err)
	}
	if _, err := triaged.DecodeBatch([]byte(`{"alerts":[]}`)); err == nil {
		t.Error("DecodeBatch took a notification without alerts")
	}
}

func TestReportRoundTrips(t *testing.T) {
	ended := time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)
	rep := &triaged.Report{
		SchemaVersion: triaged.ReportSchemaVersion, ID: "r1", IncidentID: "i1", Event: triaged.EventResolved,
		Severity: triaged.P2, ResponseTime: "< 15 min", EndedAt: &ended,
		Decisions: []triaged.Decision{{Stage: "classify", Rule: "db-down", Severity: triaged.P2, Reason: "a < b"}},
		Runbook:   &triaged.Runbook{Title: "DB down", Steps: []string{"look"}},
	}
	data, err := triaged.EncodeReport(rep)
	if err != nil {
		t.Fatal(err)
	}
	back, err := triaged.DecodeReport(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rep) {
		t.Errorf("report does not round-trip:\n got %+v\nwant %+v", back, rep)
	}
	if _, err := triaged.DecodeReport([]byte(`{"severity":`)); err == nil {
		t.Error("DecodeReport accepted cut JSON")
	}
}
