package backtest

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/internal/natstest"
)

// The budget: 100,000 stored alerts against two 200-rule sets in at most 10 s on two
// cores. README.md reports the figures:
//
//	go test ./backtest -run '^$' -bench . -benchtime 1x
const benchRecords = 100_000

// BenchmarkReplay replays records already in memory: the rule evaluation and the aggregation.
func BenchmarkReplay(b *testing.B) {
	base := parseRules(b, "base.yml", ruleFile(200, false))
	cand := parseRules(b, "cand.yml", ruleFile(200, true))
	recs := generate(benchRecords, base.Version())
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		res, err := Run(context.Background(), sliceSource(recs), Options{Baseline: base, Candidate: cand, InForce: true})
		if err != nil {
			b.Fatal(err)
		}
		if res.Alerts != benchRecords {
			b.Fatalf("replayed %d", res.Alerts)
		}
	}
}

// BenchmarkBacktestNATS is the whole backtest: reading and decoding the history from JetStream,
// then the replay.
func BenchmarkBacktestNATS(b *testing.B) {
	base := parseRules(b, "base.yml", ruleFile(200, false))
	cand := parseRules(b, "cand.yml", ruleFile(200, true))
	ns := natstest.Server(b)
	_, js := natstest.Connect(b, ns)
	ctx := context.Background()
	names := broker.MustNames("triaged")
	if _, err := broker.Ensure(ctx, js, names, broker.DefaultTopologyOptions()); err != nil {
		b.Fatal(err)
	}
	fill(b, js, names, generate(benchRecords, base.Version()))
	src := func(ctx context.Context, fn func(history.Record) error) (history.Stats, error) {
		return history.Read(ctx, js, names, time.Time{}, 0, fn)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		res, err := Run(ctx, src, Options{Baseline: base, Candidate: cand, InForce: true})
		if err != nil {
			b.Fatal(err)
		}
		if res.Alerts != benchRecords {
			b.Fatalf("replayed %d", res.Alerts)
		}
	}
}

// reportCPU reports the CPU time the process used per operation (the in-process NATS server's
// included): on a machine others share, wall time says more about them than about the backtest,
// and two idle cores take about half this.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fill publishes records asynchronously: history.Append waits for each, which takes far longer
// than the benchmark for 100,000.
func fill(b *testing.B, js jetstream.JetStream, names broker.Names, recs []history.Record) {
	b.Helper()
	for i := range recs {
		data, err := recs[i].Encode()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync(names.HistorySubject(recs[i].Kind), data); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 1999 || i == len(recs)-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("history not stored within a minute")
			}
		}
	}
}
