package backtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin on hosts without a zone database

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/history"
)

// TestRunMatrix replays the generated mix, where the candidate drops Watchdog and makes
// TargetDown in staging P2, and checks the exact matrix, the per-key changes and the incidents.
func TestRunMatrix(t *testing.T) {
	base := parseRules(t, "base.yml", ruleFile(40, false))
	cand := parseRules(t, "cand.yml", ruleFile(40, true))
	recs := generate(240, base.Version())
	for _, workers := range []int{1, 2, 7} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			res, err := Run(context.Background(), sliceSource(recs), Options{Baseline: base, Candidate: cand, InForce: true, Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			// 240 alerts: 60 of each name, 20 of each name in each environment.
			wantMatrix := []Transition{
				{"P1", "P1", 20},      // TargetDown prod
				{"P2", "P2", 60},      // HighLatency
				{"P3", "P2", 20},      // TargetDown staging, raised
				{"P3", "P3", 80},      // TargetDown dev, DiskSpaceLow
				{"P3", "dropped", 60}, // Watchdog
			}
			if !reflect.DeepEqual(res.Classification, wantMatrix) {
				t.Errorf("matrix = %v\nwant %v", res.Classification, wantMatrix)
			}
			if res.Changed != 80 || res.RuleChanged != 0 || !res.HasChanges() {
				t.Errorf("changed %d, rule changed %d", res.Changed, res.RuleChanged)
			}
			if len(res.Alertnames) != 2 || res.Alertnames[0].Name != "Watchdog" || res.Alertnames[1].Name != "TargetDown" {
				t.Fatalf("alertnames = %+v", res.Alertnames)
			}
			td := res.Alertnames[1]
			wantRules := []RuleChange{{"warning", "target-down-staging", 20}}
			if !reflect.DeepEqual(td.Rules, wantRules) {
				t.Errorf("TargetDown rules = %+v", td.Rules)
			}
			// The earliest three: records 4, 16 and 28 are TargetDown in staging (i/4 % 3 == 1).
			var fps []string
			for _, e := range td.Examples {
				fps = append(fps, e.Fingerprint)
				if e.From != "P3" || e.To != "P2" || e.RuleBefore != "warning" || e.RuleAfter != "target-down-staging" || e.Stage != StageClassify {
					t.Errorf("example %+v", e)
				}
			}
			if want := []string{"0000000000000004", "0000000000000010", "000000000000001c"}; !reflect.DeepEqual(fps, want) {
				t.Errorf("examples %v, want %v", fps, want)
			}
			if len(res.Services) != 5 {
				t.Errorf("services = %d", len(res.Services))
			}
			// 12 groups of 20 alerts; group keys are by name and env of the alert, so every
			// group of records with a TargetDown staging member rises to P2.
			if res.Incidents.Tracked == 0 || res.Incidents.PagesAdded == 0 {
				t.Errorf("incidents %+v", res.Incidents)
			}
		})
	}
}

func TestRunVersionMismatch(t *testing.T) {
	base := parseRules(t, "base.yml", ruleFile(10, false))
	recs := generate(10, "0123456789ab")
	_, err := Run(context.Background(), sliceSource(recs), Options{Baseline: base, Candidate: base, InForce: true})
	if !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("err = %v", err)
	}
	want := "10 of 10 records were decided by rule set version 0123456789ab, not by the baseline's " + base.Version()
	if got := err.Error(); got != want {
		t.Errorf("err = %q", got)
	}
	// Without InForce, the baseline is whatever the user says.
	if _, err := Run(context.Background(), sliceSource(recs), Options{Baseline: base, Candidate: base}); err != nil {
		t.Fatal(err)
	}
}

// TestRunEscalation: an opening with evidence of a deploy is raised by the recent-deploy rule;
// the candidate raises the same alert from P2, so the incident becomes a P1 page.
func TestRunEscalation(t *testing.T) {
	base := parseRules(t, "base.yml", ruleFile(10, false))
	cand := parseRules(t, "cand.yml", ruleFile(10, true))
	recs := generate(8, base.Version())
	// recs[4] is TargetDown in staging: P3 at the baseline, P2 with the candidate.
	op := recs[4]
	op.Kind, op.Incident = history.KindOpening, "inc-1"
	op.Evidence = &triaged.Enrichment{Changes: []triaged.Change{{Service: "svc-4", Version: "v2", Time: op.At.Add(-time.Minute)}}}
	noEvidence := op
	noEvidence.Evidence = nil
	recs = append(recs, op, noEvidence)
	res, err := Run(context.Background(), sliceSource(recs), Options{Baseline: base, Candidate: cand})
	if err != nil {
		t.Fatal(err)
	}
	want := []Transition{{"P2", "P1", 1}}
	if !reflect.DeepEqual(res.Escalation, want) {
		t.Errorf("escalation = %v, want %v", res.Escalation, want)
	}
	if res.Openings != 1 || res.OpeningsWithoutEvidence != 1 {
		t.Errorf("openings %d, without evidence %d", res.Openings, res.OpeningsWithoutEvidence)
	}
	var found bool
	if res.Alertnames[0].Name != "TargetDown" {
		t.Fatalf("alertnames %+v", res.Alertnames)
	}
	for _, e := range res.Alertnames[0].Examples {
		if e.Stage == StageEscalate {
			found = true
			if e.RuleBefore != "warning > recent-deploy" || e.RuleAfter != "target-down-staging > recent-deploy" {
				t.Errorf("escalation example %+v", e)
			}
		}
	}
	if !found {
		t.Errorf("no escalation example in %+v", res.Alertnames)
	}
}

func TestRunBounds(t *testing.T) {
	base := parseRules(t, "base.yml", ruleFile(10, false))
	cand := parseRules(t, "cand.yml", ruleFile(10, true))
	recs := generate(240, base.Version())
	res, err := Run(context.Background(), sliceSource(recs), Options{Baseline: base, Candidate: cand, Keys: 1, Incidents: 3, Listed: 1, Examples: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alertnames) != 1 || len(res.Services) != 1 || len(res.Alertnames[0].Examples) != 1 {
		t.Fatalf("kept %d alertnames, %d services", len(res.Alertnames), len(res.Services))
	}
	// The first changed record is Watchdog (i=1) on svc-1: the other changes are left out.
	if res.LeftOut.Alertnames != 20 || res.LeftOut.Services != 80-res.Services[0].Changed-res.Services[0].RuleChanged {
		t.Errorf("left out %+v, services %+v", res.LeftOut, res.Services[0])
	}
	// The first three groups (TargetDown, Watchdog, HighLatency in prod, #0) have two records
	// each (i = 0, 12; 1, 13; 2, 14).
	if res.Incidents.Tracked != 3 || res.LeftOut.Incidents != 240-6 || len(res.Incidents.List) != 1 {
		t.Errorf("incidents %+v, left out %+v", res.Incidents, res.LeftOut)
	}
}

// TestRunSourceFails: a source that fails midway, or a context that ends, ends Run with that
// error and leaves no goroutine behind (TestMain checks).
func TestRunSourceFails(t *testing.T) {
	base := parseRules(t, "base.yml", ruleFile(10, false))
	recs := generate(2000, base.Version())
	broken := errors.New("stream gone")
	src := func(ctx context.Context, fn func(history.Record) error) (history.Stats, error) {
		for i, r := range recs {
			if i == 1000 {
				return history.Stats{}, broken
			}
			if err := fn(r); err != nil {
				return history.Stats{}, err
			}
		}
		return history.Stats{}, nil
	}
	if _, err := Run(context.Background(), src, Options{Baseline: base, Candidate: base, Workers: 2}); !errors.Is(err, broken) {
		t.Errorf("err = %v, want %v", err, broken)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, sliceSource(recs), Options{Baseline: base, Candidate: base, Workers: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestRunTimeZone: a record is evaluated at the time it was, in the rules' time zone: 08:30 UTC
// is 09:30 in Berlin, within a rule's office hours there and not in UTC.
func TestRunTimeZone(t *testing.T) {
	base := parseRules(t, "base.yml", "default: P3\nrules: []\n")
	cand := parseRules(t, "cand.yml", "default: P3\nrules:\n  - name: office-hours\n    when: hour >= 9 && hour < 17\n    severity: P2\n")
	recs := generate(1, base.Version())
	recs[0].At = time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		loc     *time.Location
		changed int
	}{{nil, 0}, {time.UTC, 0}, {berlin, 1}} {
		res, err := Run(context.Background(), sliceSource(recs), Options{Baseline: base, Candidate: cand, Location: tc.loc})
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed != tc.changed {
			t.Errorf("in %v: %d changed, want %d", tc.loc, res.Changed, tc.changed)
		}
	}
}
