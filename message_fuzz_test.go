package triaged_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/triaged/triaged"
)

// hostileWebhooks are the inputs of issue 9 that a webhook sender controls, as seeds for the
// fuzzers of the webhook decoder: times outside the years RFC 3339 can write, huge and invisible
// labels, deep nesting, bytes that are not UTF-8, duplicate keys.
func hostileWebhooks() []string {
	alert := func(fields string) string {
		return `{"version":"4","status":"firing","receiver":"r","groupKey":"{}:{}","alerts":[{"status":"firing",` + fields + `}]}`
	}
	const labels = `"labels":{"alertname":"A"}`
	return []string{
		alert(labels + `,"startsAt":"0000-01-01T00:30:00+01:00"`),
		alert(labels + `,"startsAt":"9999-12-31T23:30:00-01:00"`),
		alert(labels + `,"startsAt":"9999-12-31T23:59:59Z"`),
		alert(labels + `,"startsAt":"2026-01-01T00:00:00Z","endsAt":"9999-12-31T23:59:59.999999999Z"`),
		alert(labels + `,"startsAt":"2026-01-01T00:00:00Z","endsAt":"10000-01-01T00:00:00Z"`),
		alert(labels + `,"startsAt":"not a time"`),
		alert(labels + `,"startsAt":"2026-01-01T00:00:00Z","fingerprint":"../../x"`),
		alert(`"labels":{"alertname":"A","a":` + strings.Repeat("[", 50) + `}`),
		alert(`"labels":{"alertname":"\xff\xfe"},"startsAt":"2026-01-01T00:00:00Z"`),
		alert(`"labels":{"alert\xc3name":"A"},"startsAt":"2026-01-01T00:00:00Z"`),
		alert(`"labels":{"alertname":"A\u0000B","x\u0000":"1"},"startsAt":"2026-01-01T00:00:00Z"`),
		alert("\"labels\":{\"alertname\":\"A\x00\"},\"startsAt\":\"2026-01-01T00:00:00Z\""),
		alert(`"labels":{"alertname":"A\u202egnp.exe","x":"\u2066\u0085"},"annotations":{"summary":"\u202e"},"startsAt":"2026-01-01T00:00:00Z"`),
		alert(`"labels":{"alertname":"A","alertname":"B"},"status":"burning","startsAt":"2026-01-01T00:00:00Z"`),
		alert(labels + `,"startsAt":"2026-01-01T00:00:00Z","generatorURL":"javascript:alert(1)"`),
		`{"version":"4","alerts":[]}`,
		`{"version":"5","alerts":[{}]}`,
		`{"version":4}`,
		`[]`,
		`null`,
		``,
	}
}

// largeWebhooks are hostile webhooks too large to seed the fuzzer with (it would spend its time
// minimizing them): TestLargeHostileWebhooks holds them to the fuzzer's checks.
func largeWebhooks() []string {
	alert := func(fields string) string {
		return `{"version":"4","alerts":[{"status":"firing",` + fields + `}]}`
	}
	return []string{
		alert(`"labels":{"alertname":"` + strings.Repeat("x", 200<<10) + `"},"startsAt":"2026-01-01T00:00:00Z"`),
		alert(`"labels":{"alertname":"A","a":` + strings.Repeat("[", 20000) + `}`),
		strings.Repeat(`{"a":`, 12000),
		`{"version":"4","alerts":[` + strings.Repeat(`{"status":"firing","labels":{"a":"b"},"startsAt":"0000-01-01T00:30:00+01:00"},`, 1000) + `{}]}`,
		`{"version":"4","alerts":[` + strings.Repeat(`{"status":"firing","labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00Z"},`, 250) + `{"status":"firing","labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00Z"}]}`,
	}
}

func TestLargeHostileWebhooks(t *testing.T) {
	for _, s := range largeWebhooks() {
		checkWebhook(t, []byte(s))
	}
}

// webhookError is the shape of every refusal of DecodeWebhook: the JSON's line and column, the
// field of the alert at fault, or what the payload as a whole lacks.
var webhookError = regexp.MustCompile(`^(malformed webhook JSON: line \d+, column \d+: .|` +
	`malformed webhook JSON: alerts\[\d+\]\.\w+: .|` +
	`not an Alertmanager webhook: .|unsupported webhook version .|alerts\[\d+\]\.\w+[:.\[] ?.)`)

// FuzzDecodeWebhook: a webhook is refused with a reason that says where, or accepted; what is
// accepted goes on the stream, reads back at triage as the same alerts with the same identities,
// and its report encodes. An accepted alert that could not be reported is the poison message of
// issue 9.
func FuzzDecodeWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(payloads, "*.json"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range hostileWebhooks() {
		f.Add([]byte(s))
	}
	f.Fuzz(checkWebhook)
}

func checkWebhook(t *testing.T, data []byte) {
	t.Helper()
	received := time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)
	b, err := triaged.DecodeWebhook(data, received)
	if err != nil {
		if b != nil {
			t.Errorf("refused with %v, yet returned a batch", err)
		}
		if !webhookError.MatchString(err.Error()) {
			t.Fatalf("refusal does not say where: %q", err)
		}
		return
	}
	msgs, err := b.Encode()
	if err != nil {
		t.Fatalf("accepted, but cannot be put on the stream: %v", err)
	}
	var back []triaged.Alert
	for _, m := range msgs {
		nb, err := triaged.DecodeBatch(m.Data)
		if err != nil {
			t.Fatalf("triage refuses what ingest accepted: %v", err)
		}
		if len(nb.Alerts) != m.Alerts || !equalGroup(nb.Group, b.Group) || !nb.ReceivedAt.Equal(b.ReceivedAt) {
			t.Fatalf("message does not read back as written: %+v", nb.Group)
		}
		back = append(back, nb.Split()...)
	}
	sent := b.Split()
	if len(back) != len(sent) {
		t.Fatalf("%d alerts accepted, %d read back", len(sent), len(back))
	}
	for i := range sent {
		s, r := &sent[i], &back[i]
		if s.MsgID() != r.MsgID() || s.IncidentID() != r.IncidentID() || !s.EndsAt.Equal(r.EndsAt) ||
			!maps.Equal(s.Annotations, r.Annotations) || s.GeneratorURL != r.GeneratorURL {
			t.Fatalf("alert %d changed on the stream: %s, read back as %s", i, s.MsgID(), r.MsgID())
		}
	}
	// Each alert opens a report of its own, which lists at most 50 members, as triage does.
	for i := range back[:min(len(back), 50)] {
		for _, rep := range reportsOf(&back[i], back[:min(len(back), 50)]) {
			data, err := triaged.EncodeReport(rep)
			if err != nil {
				t.Fatalf("accepted, but its %s report cannot be encoded: %v", rep.Severity, err)
			}
			if !json.Valid(data) || !utf8.Valid(data) {
				t.Fatalf("report is not valid UTF-8 JSON: %q", data)
			}
			if _, err := triaged.DecodeReport(data); err != nil {
				t.Fatalf("report does not read back: %v", err)
			}
		}
	}
}

func equalGroup(a, b triaged.Group) bool {
	return a.Receiver == b.Receiver && a.Status == b.Status && a.Key == b.Key && a.ExternalURL == b.ExternalURL &&
		a.Size == b.Size && a.TruncatedAlerts == b.TruncatedAlerts &&
		maps.Equal(a.Labels, b.Labels) && maps.Equal(a.CommonLabels, b.CommonLabels)
}

// reportsOf builds the reports of an incident of the alerts, opened by a and resolved when a
// is, at every severity (each has deadlines of its own), with every field that triage fills from
// an alert. It is built here rather than by triage.BuildReport, so that this package's tests do
// not build NATS: the times it derives are this package's (Severity.Deadlines, PostmortemDue).
func reportsOf(a *triaged.Alert, all []triaged.Alert) []*triaged.Report {
	opened := a.StartsAt
	var members []triaged.ReportAlert
	for _, m := range all {
		members = append(members, triaged.ReportAlert{Fingerprint: m.ID(), Status: m.Status, Labels: m.Labels,
			Annotations: m.Annotations, StartsAt: m.StartsAt, EndsAt: endsAt(&m), GeneratorURL: m.GeneratorURL})
		if m.StartsAt.Before(opened) {
			opened = m.StartsAt
		}
	}
	var reps []*triaged.Report
	for _, sev := range []triaged.Severity{triaged.P1, triaged.P2, triaged.P3, triaged.P4} {
		rep := &triaged.Report{
			SchemaVersion: triaged.ReportSchemaVersion, ID: a.IncidentID() + ".1.opened", IncidentID: a.IncidentID(),
			Event: triaged.EventOpened, Severity: sev, SeverityName: sev.Name(), ResponseTime: sev.ResponseTimeText(),
			Status: triaged.ReportInvestigating, AlertName: a.Name(), Service: a.Labels["service"],
			Summary: a.Annotations["summary"], Description: a.Annotations["description"], GroupKey: a.Group.Key,
			StartedAt: opened.UTC(), ReceivedAt: a.ReceivedAt.UTC(), TriagedAt: a.ReceivedAt.UTC(),
			Alerts: members, TruncatedAlerts: a.Group.TruncatedAlerts,
			Links: triaged.Links{Alertmanager: a.Group.ExternalURL, Generator: a.GeneratorURL},
		}
		d := sev.Deadlines(rep.StartedAt)
		rep.Deadlines = &d
		if a.Resolved() && !a.EndsAt.IsZero() {
			rep.Event, rep.Status, rep.EndedAt = triaged.EventResolved, triaged.ReportResolved, endsAt(a)
			*rep.EndedAt = rep.EndedAt.UTC()
			if due, ok := sev.PostmortemDue(*rep.EndedAt); ok {
				rep.PostmortemDue = &due
			}
		} else {
			next := rep.TriagedAt.Add(sev.UpdateEvery())
			rep.NextUpdateDue = &next
		}
		rep.Headline = triaged.Headline(rep)
		reps = append(reps, rep)
	}
	return reps
}

func endsAt(a *triaged.Alert) *time.Time {
	if a.EndsAt.IsZero() {
		return nil
	}
	t := a.EndsAt
	return &t
}
