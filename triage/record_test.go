package triage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
)

var kib = strings.Repeat("a", 1<<10)

// wideAlert is alert i of a group, with annotations annotations of 1 KiB each.
func wideAlert(i, annotations int, status string) arrival {
	ann := template.KV{"summary": fmt.Sprintf("instance %d is down", i)}
	for j := 1; j < annotations; j++ {
		ann[fmt.Sprintf("note_%02d", j)] = kib
	}
	a := &triaged.Alert{Alert: template.Alert{
		Status: status, StartsAt: time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC), Fingerprint: fmt.Sprintf("%016x", i),
		Labels: template.KV{"alertname": "Wide", "instance": fmt.Sprintf("api-%03d", i)}, Annotations: ann, GeneratorURL: "http://prometheus/graph",
	}}
	if status == triaged.StatusResolved {
		a.EndsAt = a.StartsAt.Add(time.Minute)
	}
	return arrival{alert: a, cls: triaged.Classification{Severity: triaged.P3}}
}

// TestMembersStayWithinTheirBudget: 500 members of 60 annotations of 1 KiB took 30 MB of an
// incident's record. Members keep their annotations while they take under half the budget, are
// kept without them (trimmed) until the budget is full, and are counted in MembersDropped beyond;
// a trimmed member stays trimmed when its status changes.
func TestMembersStayWithinTheirBudget(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 1, 0, 0, time.UTC)
	g := triaged.Group{Receiver: "triaged", Key: `{}:{alertname="Wide"}`, Labels: template.KV{"alertname": "Wide"}}
	tests := []struct {
		name                    string
		alerts, annotations     int
		budget                  int
		whole, trimmed, dropped int
	}{
		{"small alerts keep everything", 500, 1, 0, 500, 0, 0},
		{"500 alerts of 1 KiB keep all their members", 500, 2, 0, -1, -1, 0},
		{"500 alerts of 60 KiB", 500, 60, 0, 4, 496, 0},
		{"a budget too small for all", 100, 60, 16 << 10, 0, 0, 0}, // counted below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			p.MembersMaxBytes = tt.budget
			var in []arrival
			for i := range tt.alerts {
				in = append(in, wideAlert(i, tt.annotations, triaged.StatusFiring))
			}
			// In notifications of ten, as they come off the stream.
			inc, _ := p.apply(nil, g, in[:10], now)
			for from := 10; from < len(in); from += 10 {
				inc, _ = p.apply(inc, g, in[from:from+10], now)
			}
			data, err := json.Marshal(inc.Members)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > p.membersMaxBytes() {
				t.Errorf("members take %d bytes, over their budget of %d", len(data), p.membersMaxBytes())
			}
			whole, trimmed := 0, 0
			for _, m := range inc.Members {
				if data, err := encodeRecord(m); err != nil || memberBytes(&m) < len(data)+1 {
					t.Fatalf("member %s takes %d bytes in a record, over the %d counted (%v)", m.Fingerprint, len(data)+1, memberBytes(&m), err)
				}
				if m.Trimmed {
					trimmed++
					if m.Annotations != nil || m.GeneratorURL != "" {
						t.Fatalf("trimmed member %s keeps annotations or its generator URL", m.Fingerprint)
					}
				} else {
					whole++
				}
			}
			// A notification of which no alert is kept changes nothing, and its drops are not
			// stored: the count is a lower bound.
			if got := whole + trimmed + inc.MembersDropped; got != tt.alerts && (tt.budget == 0 || got > tt.alerts) {
				t.Errorf("%d members kept and %d dropped, %d in all; want %d", whole+trimmed, inc.MembersDropped, got, tt.alerts)
			}
			if tt.whole < 0 {
				whole, trimmed = -1, -1
			}
			if tt.budget == 0 && (whole != tt.whole || trimmed != tt.trimmed || inc.MembersDropped != tt.dropped) {
				t.Errorf("%d whole, %d trimmed, %d dropped; want %d, %d, %d", whole, trimmed, inc.MembersDropped, tt.whole, tt.trimmed, tt.dropped)
			}
			if tt.budget != 0 && inc.MembersDropped == 0 {
				t.Errorf("a budget of %d bytes kept all %d members", tt.budget, len(inc.Members))
			}
			// A trimmed member that recovers comes with its annotations again: it stays trimmed.
			if i := slices.IndexFunc(inc.Members, func(m triaged.Member) bool { return m.Trimmed }); i >= 0 {
				var n int
				if _, err := fmt.Sscanf(inc.Members[i].Labels["instance"], "api-%d", &n); err != nil {
					t.Fatal(err)
				}
				next, st := p.apply(inc, g, []arrival{wideAlert(n, tt.annotations, triaged.StatusResolved)}, now.Add(time.Hour))
				m := next.Members[i]
				if m.Status != triaged.StatusResolved || !m.Trimmed || m.Annotations != nil || st.skip != "" {
					t.Errorf("recovered trimmed member: status %s, trimmed %t, %d annotations (skip %q)", m.Status, m.Trimmed, len(m.Annotations), st.skip)
				}
			}
		})
	}
}

// TestGroupKeyIsBoundedAsStored: a group key of 200 KB (the door lets up to max_alert_bytes of
// group context through) was kept twice in the incident's record. It is cut; the incident's
// identity is still that of the whole key.
func TestGroupKeyIsBoundedAsStored(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 1, 0, 0, time.UTC)
	p := DefaultPolicy()
	long := `{}:{alertname="Wide", blob="` + strings.Repeat("x", 200<<10)
	a, b := triaged.Group{Receiver: "triaged", Key: long + `a"}`}, triaged.Group{Receiver: "triaged", Key: long + `b"}`}
	incA, _ := p.apply(nil, a, []arrival{wideAlert(1, 1, triaged.StatusFiring)}, now)
	incB, _ := p.apply(nil, b, []arrival{wideAlert(1, 1, triaged.StatusFiring)}, now)
	for _, inc := range []*triaged.Incident{incA, incB} {
		if len(inc.Key) > maxGroupKeyBytes || len(inc.GroupKey) > maxGroupKeyBytes || !strings.Contains(inc.GroupKey, "bytes cut]") {
			t.Errorf("incident keeps a key of %d bytes and a group key of %d bytes, want each cut at %d", len(inc.Key), len(inc.GroupKey), maxGroupKeyBytes)
		}
	}
	if incA.ID == incB.ID || p.key(a, nil) == p.key(b, nil) {
		t.Errorf("two groups whose keys differ after the cut are one incident %s", incA.ID)
	}
}

// TestRecordFitsWhatNATSStores: whatever the evidence, the changes waiting to be reported, the
// members or the report waiting in the outbox take, the record is trimmed to fit, saying so,
// rather than failing every write.
func TestRecordFitsWhatNATSStores(t *testing.T) {
	const max = 256 << 10
	big := strings.Repeat("é", 40<<10)
	base := func() *record {
		r := &record{Incident: triaged.Incident{ID: "20261126-wide-0011223344", State: triaged.IncidentOpen, Severity: triaged.P3},
			Classification: triaged.Classification{Severity: triaged.P3}}
		for i := range 20 {
			r.Members = append(r.Members, member(wideAlert(i, 8, triaged.StatusFiring)))
		}
		return r
	}
	var changes []triaged.Change
	for i := range 500 {
		changes = append(changes, triaged.Change{Service: "svc", Version: fmt.Sprintf("v%d", i), URL: "https://ci.example.com/" + strings.Repeat("b", 100)})
	}
	var lines []string
	for i := range 5000 {
		lines = append(lines, fmt.Sprintf("line %d: level=error something failed", i))
	}
	report := &triaged.Report{SchemaVersion: triaged.ReportSchemaVersion, ID: "r.1.opened", IncidentID: "r", Event: triaged.EventOpened, Severity: triaged.P3, Summary: strings.Repeat("s", max)}
	reportData, err := triaged.EncodeReport(report)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(r *record)
		check  func(t *testing.T, r *record)
	}{
		{"fits as it is", func(*record) {}, nil},
		{"logs, probes and changes of megabytes", func(r *record) {
			r.Evidence = &triaged.Enrichment{Changes: changes, Logs: []triaged.LogTail{{Source: "app", Lines: lines}},
				Probes: []triaged.Probe{{Name: "p", Body: big}, {Name: "q", Body: big}, {Name: "r", Error: big}}, Observations: []string{big, big}}
		}, func(t *testing.T, r *record) {
			e := r.Evidence
			if e.ChangesOmitted == 0 || e.Logs[0].LinesOmitted == 0 || !e.Logs[0].Truncated {
				t.Errorf("evidence trimmed without counting: %d changes omitted, %d log lines omitted", e.ChangesOmitted, e.Logs[0].LinesOmitted)
			}
			if !strings.Contains(e.Probes[0].Body, "bytes cut]") {
				t.Errorf("a probe body of %d bytes cut without its marker", len(e.Probes[0].Body))
			}
			if !slices.ContainsFunc(e.Observations, func(o string) bool { return strings.HasPrefix(o, "evidence trimmed to keep the incident's record") }) {
				t.Errorf("the evidence does not say it was trimmed: %q", e.Observations)
			}
		}},
		{"changes waiting of long names", func(r *record) {
			for range triaged.MaxPending {
				r.Pending = append(r.Pending, big[:20<<10])
			}
		}, func(t *testing.T, r *record) {
			if !strings.HasPrefix(r.Pending[0], "(") || !strings.Contains(r.Pending[len(r.Pending)-1], "bytes cut]") {
				t.Errorf("changes waiting trimmed without saying so: %.80q", r.Pending)
			}
		}},
		{"members over their budget", func(r *record) {
			r.Members = nil
			for i := range 60 {
				r.Members = append(r.Members, member(wideAlert(i, 60, triaged.StatusFiring)))
			}
		}, func(t *testing.T, r *record) {
			if !slices.ContainsFunc(r.Members, func(m triaged.Member) bool { return m.Trimmed }) {
				t.Error("no member trimmed")
			}
			if len(r.Members)+r.MembersDropped != 60 {
				t.Errorf("%d members kept, %d counted dropped; want 60 in all", len(r.Members), r.MembersDropped)
			}
		}},
		{"a report waiting that takes it all", func(r *record) {
			r.Outbox = []outMsg{{Subject: "triaged.reports.opened.p3", MsgID: report.ID, Data: reportData, Report: 0}}
			r.Reports = []triaged.ReportRef{{ID: report.ID, Severity: triaged.P3}}
		}, func(t *testing.T, r *record) {
			rep, err := triaged.DecodeReport(r.Outbox[0].Data)
			if err != nil || rep.ID != report.ID || len(rep.Trimmed) == 0 {
				t.Errorf("the report waiting is no longer the trimmed report %s: %v", report.ID, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.mutate(r)
			data, notes, err := fitRecord(r, max)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > max {
				t.Fatalf("record of %d bytes, over %d", len(data), max)
			}
			var back record
			if err := json.Unmarshal(data, &back); err != nil || back.ID != r.ID {
				t.Fatalf("record stored does not decode as the incident: %v", err)
			}
			if (tt.check == nil) != (len(notes) == 0) {
				t.Errorf("trim notes %q", notes)
			}
			if tt.check != nil {
				tt.check(t, &back)
			}
		})
	}
}

// TestRecordsAreStoredWithoutHTMLEscapes: encoding/json writes six bytes for each <, > and & — of
// links in a report waiting in the outbox, of label values — unless told not to.
func TestRecordsAreStoredWithoutHTMLEscapes(t *testing.T) {
	r := &record{Incident: triaged.Incident{ID: "x", Severity: triaged.P3, GroupLabels: map[string]string{"q": strings.Repeat("<&>", 1000)}},
		Classification: triaged.Classification{Severity: triaged.P3},
		Outbox:         []outMsg{{Data: json.RawMessage(`{"link":"http://a/?b=1&c=2"}`)}}}
	data, _, err := fitRecord(r, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `\u0026`) || len(data) > 4000 {
		t.Errorf("record of %d bytes holds HTML escapes", len(data))
	}
}
