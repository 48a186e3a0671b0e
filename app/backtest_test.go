package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/backtest"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/rules"
)

// TestBacktestOnTheDaemonsOwnHistory: what the daemon writes to its history is what a backtest
// replays. Three alerts of one group are triaged under the built-in rules; a candidate that pages
// for everything moves each of them to P1, and the backtest finds the built-in rules were the
// ones in force.
func TestBacktestOnTheDaemonsOwnHistory(t *testing.T) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce)})
	r.postFile(t, "firing-3-alerts.json")
	r.waitReports(t, 1)

	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	names := broker.MustNames(r.app.Config().NATS.Prefix)
	candidate, err := rules.Parse("candidate.rules.yml", []byte("rules:\n  - name: everything-pages\n    when: \"true\"\n    severity: P1\n"))
	if err != nil {
		t.Fatal(err)
	}
	src := func(ctx context.Context, fn func(history.Record) error) (history.Stats, error) {
		return history.Read(ctx, js, names, time.Time{}, 0, fn)
	}
	var res *backtest.Result
	testkit.Eventually(t, testTimeout, "the history holds the three alerts and the opening", func() bool {
		res, err = backtest.Run(context.Background(), src, backtest.Options{Baseline: rules.Default(), Candidate: candidate, InForce: true})
		return err == nil && res.Alerts == 3 && res.Openings == 1
	})
	if err != nil {
		t.Fatalf("backtest: %v", err)
	}
	moved := 0
	for _, tr := range res.Classification {
		if tr.To != "P1" {
			t.Errorf("transition %s→%s ×%d: the candidate decides P1 for everything", tr.From, tr.To, tr.Count)
		}
		if tr.From != "P1" {
			moved += tr.Count
		}
	}
	if moved == 0 || res.OpeningsWithoutEvidence != 0 {
		t.Errorf("backtest %+v: want the built-in rules' non-P1 alerts moved to P1 and the opening escalated over its evidence", res)
	}
}
