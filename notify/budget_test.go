package notify

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/golden"
)

// overBudget is openedP1 grown past a small budget: 200 alerts with a long label, 500 deploys,
// a long log excerpt and a silence link built from a huge label.
func overBudget() *triaged.Report {
	rep := openedP1()
	rep.AlertsFiring = 200
	for i := 3; i < 200; i++ {
		a := checkoutAlert(fmt.Sprintf("3f9a1c2b7d4e%04x", i), fmt.Sprintf("10.0.5.%d:8080", i), triaged.P2, "tier1-down")
		a.Labels["pod"] = strings.Repeat("checkout-7d9f-", 100)
		rep.Alerts = append(rep.Alerts, a)
	}
	for i := range 500 {
		rep.RecentChanges = append(rep.RecentChanges, triaged.Change{Service: "checkout", Environment: "production",
			Version: fmt.Sprintf("v2.13.%d", i), Time: t0.Add(-time.Duration(100+i) * time.Minute), MinutesBefore: 100 + i})
	}
	for i := range 400 {
		rep.Logs[0].Lines = append(rep.Logs[0].Lines, fmt.Sprintf("2026-03-14T09:%02d:00Z ERROR retry %d of the payment call failed", i%60, i))
	}
	rep.Links.Silence += strings.Repeat("%2F", 20<<10)
	return rep
}

// TestGoldenTrimmed renders reports trimmed to fit a budget: every cut and every left-out part
// says so, with "… and N more" where a list was cut.
func TestGoldenTrimmed(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		max  int
	}{
		{"trimmed_p1", triaged.MinReportMaxBytes},
		{"trimmed_minimal_p1", 2 << 10}, // below any budget the config allows: the last resort
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, rep, err := triaged.EncodeReportWithin(overBudget(), tc.max)
			if err != nil || len(data) > tc.max {
				t.Fatalf("encoded %d bytes (%v), budget %d", len(data), err, tc.max)
			}
			got, err := r.Markdown(rep)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".md"), got)
		})
	}
}
