package triaged_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
)

// bigReport is a report with every part that can grow grown past NATS' max payload: a 700 KB
// value, an overlong link, 6,000 deploys, 200 alerts, long log excerpts, probe bodies.
func bigReport() *triaged.Report {
	t0 := time.Date(2026, 11, 26, 15, 8, 31, 0, time.UTC)
	huge := strings.Repeat("x/y=", 700<<10/4)
	rep := &triaged.Report{
		SchemaVersion: triaged.ReportSchemaVersion, ID: "inc.1.opened", IncidentID: "inc", Event: triaged.EventOpened,
		Severity: triaged.P2, Status: triaged.ReportInvestigating, AlertName: "Huge", Service: "checkout",
		Summary: huge[:64<<10], StartedAt: t0, ReceivedAt: t0, TriagedAt: t0, AlertsFiring: 200,
		Links:  triaged.Links{Silence: "http://am.example.com/#/silences/new?filter=" + strings.Repeat("%2F", 20<<10)},
		Probes: []triaged.Probe{{Name: "health", Kind: "http", Target: "http://checkout/healthz", Body: strings.Repeat("b", 512)}},
	}
	for i := range 200 {
		rep.Alerts = append(rep.Alerts, triaged.ReportAlert{Fingerprint: fmt.Sprintf("%016x", i), Status: "firing", StartsAt: t0,
			Labels: map[string]string{"alertname": "Huge", "instance": fmt.Sprintf("api-%d", i), "blob": huge[:256]}, Annotations: map[string]string{}})
	}
	for i := range 6000 {
		rep.RecentChanges = append(rep.RecentChanges, triaged.Change{Service: "checkout", Version: fmt.Sprintf("v1.%d", i),
			URL: "https://ci.example.com/builds/" + fmt.Sprint(i), Time: t0.Add(-time.Duration(i) * time.Second)})
	}
	for range 2 {
		var lines []string
		for i := range 300 {
			lines = append(lines, fmt.Sprintf("%04d ERROR %s", i, strings.Repeat("e", 200)))
		}
		rep.Logs = append(rep.Logs, triaged.LogTail{Source: "app", Lines: lines})
	}
	return rep
}

func TestEncodeReportWithinFitsTheBudget(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rep     func() *triaged.Report
		max     int
		minimal bool     // only the last resort fits
		want    []string // in the encoded report
	}{
		{"whole report, default budget", bigReport, triaged.DefaultReportMaxBytes, false, []string{
			`"alerts_omitted":`, `"recent_changes_omitted":`, `"lines_omitted":`, `older left out"`, `bytes cut]`, `"trimmed":["trimmed to fit the report budget of 262144 bytes`,
		}},
		{"whole report, smallest budget", bigReport, triaged.MinReportMaxBytes, false, []string{`"recent_changes_omitted":`}},
		{"one huge label", func() *triaged.Report {
			r := bigReport()
			r.Alerts, r.AlertsFiring, r.RecentChanges, r.Logs, r.Summary = r.Alerts[:1], 1, nil, nil, "short"
			r.Alerts[0].Labels["blob"] = strings.Repeat("x/y=", 700<<10/4)
			return r
		}, triaged.DefaultReportMaxBytes, false, []string{`"labels":{"alertname":"Huge","blob":"x/y=`, `bytes cut]"`}},
		{"budget too small for anything but the essentials", bigReport, 2 << 10, true, []string{`"pending_why":{"logs":"left out: the report was`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := tc.rep()
			before, err := triaged.EncodeReport(rep)
			if err != nil {
				t.Fatal(err)
			}
			data, got, err := triaged.EncodeReportWithin(rep, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > tc.max {
				t.Errorf("encoded report is %d bytes, over the budget of %d", len(data), tc.max)
			}
			if after, _ := triaged.EncodeReport(rep); !bytes.Equal(before, after) {
				t.Errorf("the report given was changed: it shares its maps and slices with the incident")
			}
			if again, _ := triaged.EncodeReport(got); !bytes.Equal(again, data) {
				t.Errorf("the report returned is not the one encoded")
			}
			if _, err := triaged.DecodeReport(data); err != nil || !json.Valid(data) {
				t.Fatalf("encoded report does not decode: %v", err)
			}
			if isMinimal := len(got.Alerts) == 0 && len(got.Trimmed) == 1; isMinimal != tc.minimal {
				t.Errorf("minimal report %v, want %v: %v", isMinimal, tc.minimal, got.Trimmed)
			}
			if got.AlertsFiring != rep.AlertsFiring || got.Severity != triaged.P2 || got.ID != rep.ID || got.AlertsOmitted+len(got.Alerts) != len(rep.Alerts) {
				t.Errorf("the counts and identity must survive: firing %d, severity %s, id %q, %d listed + %d omitted", got.AlertsFiring, got.Severity, got.ID, len(got.Alerts), got.AlertsOmitted)
			}
			for _, w := range tc.want {
				if !bytes.Contains(data, []byte(w)) {
					t.Errorf("encoded report lacks %s:\n%.2000s", w, data)
				}
			}
		})
	}
}

// A report within its budget is encoded as it is, not copied or trimmed.
func TestEncodeReportWithinLeavesAFittingReport(t *testing.T) {
	rep := &triaged.Report{ID: "a.1.opened", Severity: triaged.P3, Summary: strings.Repeat("s", 1000)}
	data, got, err := triaged.EncodeReportWithin(rep, triaged.MinReportMaxBytes)
	want, _ := triaged.EncodeReport(rep)
	if err != nil || got != rep || !bytes.Equal(data, want) {
		t.Fatalf("a fitting report was changed: %v, %s", err, data)
	}
}

func TestCutString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{strings.Repeat("a", 100), 40, strings.Repeat("a", 21) + " …[79 bytes cut]"},
		{strings.Repeat("é", 50), 40, strings.Repeat("é", 10) + " …[80 bytes cut]"}, // never half a rune
	} {
		got := triaged.CutString(tc.in, tc.n)
		if got != tc.want || len(got) > max(tc.n, len(tc.in)) {
			t.Errorf("CutString(%d bytes, %d) = %q, want %q", len(tc.in), tc.n, got, tc.want)
		}
	}
}
