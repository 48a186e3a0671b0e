package triaged_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/triaged/triaged"
)

func TestHeadline(t *testing.T) {
	start := time.Date(2026, 3, 14, 14, 14, 0, 0, time.UTC)
	end := start.Add(42*time.Minute + 10*time.Second)
	base := func() *triaged.Report {
		return &triaged.Report{
			Event: triaged.EventOpened, Severity: triaged.P2, SeverityName: "HIGH",
			AlertName: "TargetDown", Service: "payments-api", Environment: "staging",
			AlertsFiring: 3, StartedAt: start,
			RecentChanges: []triaged.Change{}, RecentChangesWindowMinutes: 120,
		}
	}
	with := func(f func(r *triaged.Report)) *triaged.Report { r := base(); f(r); return r }
	deploys := []triaged.Change{{Service: "payments-api", Suspect: true}, {Service: "db"}, {Service: "payments-api", Suspect: true}}
	long := strings.Repeat("x", 300)

	for _, tc := range []struct {
		name string
		rep  *triaged.Report
		want string
	}{
		{"opened", base(), "P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · no deploys in 2h"},
		// The configured default environment is never presented as known.
		{"assumed environment", with(func(r *triaged.Report) { r.Environment, r.EnvironmentAssumed = "production", true }),
			"P2 HIGH · TargetDown · payments-api (production, assumed) · 3 alerts firing · no deploys in 2h"},
		{"one alert, window unknown", with(func(r *triaged.Report) { r.AlertsFiring, r.RecentChangesWindowMinutes = 1, 0 }),
			"P2 HIGH · TargetDown · payments-api (staging) · 1 alert firing · no recent deploys"},
		// A deploy index that could not see everything: no "no deploys", no "none suspect".
		{"index incomplete, nothing found", with(func(r *triaged.Report) { r.RecentChangesIncomplete = "deploy index saturated for payments-api" }),
			"P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · deploys unknown, index incomplete"},
		{"index incomplete, deploys found", with(func(r *triaged.Report) {
			r.RecentChanges, r.RecentChangesIncomplete = deploys[1:2], "deploy index saturated for db"
		}), "P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · 1 deploy in 2h, index incomplete"},
		{"index incomplete, suspects found", with(func(r *triaged.Report) {
			r.RecentChanges, r.RecentChangesIncomplete = deploys, "deploy index saturated for db"
		}), "P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · 2 suspect deploys"},
		{"suspect deploys", with(func(r *triaged.Report) { r.RecentChanges = deploys }),
			"P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · 2 suspect deploys"},
		{"one suspect deploy", with(func(r *triaged.Report) { r.RecentChanges = deploys[:1] }),
			"P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · 1 suspect deploy"},
		{"deploys, none suspect", with(func(r *triaged.Report) { r.RecentChanges = deploys[1:2]; r.RecentChangesWindowMinutes = 90 }),
			"P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · 1 deploy in 1h30m, none suspect"},
		{"changes not collected", with(func(r *triaged.Report) { r.Pending = []string{triaged.SectionRecentChanges} }),
			"P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing"},
		{"changes absent", with(func(r *triaged.Report) { r.RecentChanges = nil }),
			"P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing"},
		{"updated, some recovered", with(func(r *triaged.Report) { r.Event, r.AlertsFiring, r.AlertsResolved = triaged.EventUpdated, 2, 1 }),
			"P2 HIGH · TargetDown · payments-api (staging) · 2 of 3 alerts firing · no deploys in 2h"},
		{"resolved", with(func(r *triaged.Report) {
			r.Event, r.AlertsFiring, r.AlertsResolved, r.EndedAt = triaged.EventResolved, 0, 3, &end
		}), "P2 HIGH · TargetDown · payments-api (staging) · resolved after 42m · no deploys in 2h"},
		{"resolved, end unknown", with(func(r *triaged.Report) { r.Event = triaged.EventResolved }),
			"P2 HIGH · TargetDown · payments-api (staging) · resolved · no deploys in 2h"},
		{"reopened", with(func(r *triaged.Report) { r.Event, r.AlertsFiring = triaged.EventReopened, 1 }),
			"P2 HIGH · TargetDown · payments-api (staging) · reopened, 1 alert firing · no deploys in 2h"},
		{"flapping", with(func(r *triaged.Report) { r.Event, r.Flapping = triaged.EventUpdated, true }),
			"P2 HIGH · TargetDown · payments-api (staging) · flapping · no deploys in 2h"},
		{"counts from the alerts of an older report", with(func(r *triaged.Report) {
			r.AlertsFiring = 0
			r.Alerts = []triaged.ReportAlert{{Status: triaged.StatusFiring}, {Status: triaged.StatusResolved}}
		}), "P2 HIGH · TargetDown · payments-api (staging) · 1 of 2 alerts firing · no deploys in 2h"},
		{"no environment, names from the severity", with(func(r *triaged.Report) { r.Environment, r.SeverityName, r.Severity = "", "", triaged.P1 }),
			"P1 CRITICAL · TargetDown · payments-api · 3 alerts firing · no deploys in 2h"},
		{"hostile values stay on one line", with(func(r *triaged.Report) {
			r.AlertName, r.Service, r.Environment = "Evil\n# PWNED", "a\u202eb\tc", "prod\r\n\r\n## x"
		}), "P2 HIGH · Evil # PWNED · a\uFFFDb c (prod ## x) · 3 alerts firing · no deploys in 2h"},
		{"long values are cut", with(func(r *triaged.Report) { r.AlertName, r.Service, r.Environment = long, long, long }),
			"P2 HIGH · " + strings.Repeat("x", 39) + "… · " + strings.Repeat("x", 39) + "… (" + strings.Repeat("x", 23) + "…) · 3 alerts firing · no deploys in 2h"},
		{"zero report", &triaged.Report{}, "P? UNKNOWN · alert · unknown service"},
		{"nil", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := triaged.Headline(tc.rep)
			if got != tc.want {
				t.Errorf("Headline() =\n%q, want\n%q", got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > 200 || strings.ContainsAny(got, "\n\r\t") {
				t.Errorf("Headline() is %d runes or spans lines: %q", n, got)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		800 * time.Millisecond:           "1s",
		45 * time.Second:                 "45s",
		42*time.Minute + 10*time.Second:  "42m",
		time.Hour:                        "1h",
		65 * time.Minute:                 "1h5m",
		26*time.Hour + 20*time.Second:    "26h",
		120 * time.Minute:                "2h",
		59*time.Minute + 50*time.Second:  "1h",
		90*time.Minute + 29*time.Second:  "1h30m",
		7 * 24 * time.Hour:               "168h",
		-5 * time.Second:                 "-5s",
		time.Duration(0):                 "0s",
		time.Minute - time.Millisecond*1: "1m",
		time.Hour + 29*time.Second:       "1h",
		59*time.Minute + 31*time.Second:  "1h",
		1500 * time.Millisecond:          "2s",
		26 * time.Hour:                   "26h",
	} {
		if got := triaged.HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
