package triaged_test

import (
	"testing"
	"time"

	"github.com/triaged/triaged"
)

var slaStart = time.Date(2026, 3, 14, 14, 14, 0, 0, time.UTC)

// The workflow's Severity Response SLA table, column by column.
func TestDeadlines(t *testing.T) {
	at := func(d time.Duration) time.Time { return slaStart.Add(d) }
	ptr := func(d time.Duration) *time.Time { v := at(d); return &v }
	day := 24 * time.Hour
	for _, tc := range []struct {
		sev  triaged.Severity
		want triaged.Deadlines
	}{
		{triaged.P1, triaged.Deadlines{Triage: at(15 * time.Minute), Mitigate: ptr(30 * time.Minute), Resolve: at(4 * time.Hour)}},
		{triaged.P2, triaged.Deadlines{Triage: at(30 * time.Minute), Mitigate: ptr(time.Hour), Resolve: at(day)}},
		{triaged.P3, triaged.Deadlines{Triage: at(2 * time.Hour), Mitigate: ptr(4 * time.Hour), Resolve: at(7 * day)}},
		{triaged.P4, triaged.Deadlines{Triage: at(day), Mitigate: nil, Resolve: at(14 * day)}}, // mitigation: best effort
		{triaged.Severity(0), triaged.Deadlines{}},
		{triaged.Severity(5), triaged.Deadlines{}},
	} {
		got := tc.sev.Deadlines(slaStart)
		if !got.Triage.Equal(tc.want.Triage) || !got.Resolve.Equal(tc.want.Resolve) ||
			(got.Mitigate == nil) != (tc.want.Mitigate == nil) ||
			got.Mitigate != nil && !got.Mitigate.Equal(*tc.want.Mitigate) {
			t.Errorf("%v.Deadlines() = %+v, want %+v", tc.sev, got, tc.want)
		}
	}
}

func TestUpdateEvery(t *testing.T) {
	for sev, want := range map[triaged.Severity]time.Duration{
		triaged.P1: 15 * time.Minute, triaged.P2: 30 * time.Minute, // the workflow's "every [15/30] minutes"
		triaged.P3: 2 * time.Hour, triaged.P4: 24 * time.Hour, // ours, see sla.go
		triaged.Severity(0): 0,
	} {
		if got := sev.UpdateEvery(); got != want {
			t.Errorf("%v.UpdateEvery() = %v, want %v", sev, got, want)
		}
	}
}

func TestPostmortemDue(t *testing.T) {
	for _, tc := range []struct {
		sev    triaged.Severity
		want   time.Time
		wantOK bool
	}{
		{triaged.P1, slaStart.Add(5 * 24 * time.Hour), true},
		{triaged.P2, slaStart.Add(5 * 24 * time.Hour), true},
		{triaged.P3, time.Time{}, false},
		{triaged.P4, time.Time{}, false},
		{triaged.Severity(0), time.Time{}, false},
	} {
		got, ok := tc.sev.PostmortemDue(slaStart)
		if !got.Equal(tc.want) || ok != tc.wantOK {
			t.Errorf("%v.PostmortemDue() = %v, %v; want %v, %v", tc.sev, got, ok, tc.want, tc.wantOK)
		}
	}
}

// An alert may start as late as the last second of year 9999 (validation's bound); the deadlines
// counted from it must still fit in a report, or the report could never be encoded (issue 9).
func TestDeadlinesAtTheEndOfTime(t *testing.T) {
	last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, sev := range []triaged.Severity{triaged.P1, triaged.P2, triaged.P3, triaged.P4} {
		d := sev.Deadlines(last.Add(-time.Hour))
		rep := &triaged.Report{Severity: sev, StartedAt: last, Deadlines: &d}
		if due, ok := sev.PostmortemDue(last); ok {
			rep.PostmortemDue = &due
		}
		if _, err := triaged.EncodeReport(rep); err != nil {
			t.Errorf("%v: %v", sev, err)
		}
		if d.Triage.Before(last.Add(-time.Hour)) || d.Resolve.Before(d.Triage) {
			t.Errorf("%v: deadlines %+v go back in time", sev, d)
		}
	}
}
