package enrich

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/deploy"
	"github.com/triaged/triaged/runbooks"
)

// Kind is a kind of enricher, the value of the "enricher" metric label.
type Kind string

// The kinds of enricher.
const (
	KindDeploys Kind = "deploys"
	KindProbe   Kind = "probe"
	KindLogs    Kind = "logs"
	KindRunbook Kind = "runbook"
	KindMetrics Kind = "metrics"
)

var kinds = []Kind{KindDeploys, KindProbe, KindLogs, KindRunbook, KindMetrics}

// Outcome is how one enricher's run ended, the value of the "outcome" metric label.
type Outcome string

// The outcomes of an enricher's run.
const (
	OK      Outcome = "ok"
	Failed  Outcome = "failed"  // an error, a failed probe, a log source that could not be read
	Timeout Outcome = "timeout" // the incident's deadline cut it off
)

var outcomes = []Outcome{OK, Failed, Timeout}

// task is one enricher to run for one incident.
type task struct {
	kind Kind
	// name is the probe's or the log source's name as configured; "" for the others.
	name string
	run  func(context.Context) finding
}

// description names the task for the reader and the log: "probe health", "recent deploys".
func (t task) description() string {
	switch t.kind {
	case KindDeploys:
		return "recent deploys"
	case KindProbe, KindLogs:
		return string(t.kind) + " " + t.name
	default:
		return string(t.kind)
	}
}

// finding is one enricher's result: exactly one of its parts is set, or err.
type finding struct {
	changes *deploy.Correlation
	probe   *triaged.Probe
	logs    *triaged.LogTail
	runbook *runbooks.Result
	metrics *metricsFinding
	err     error
	outcome Outcome
	elapsed time.Duration
	// late, set when the deadline abandoned the enricher, yields its finding if it ever ends.
	late <-chan finding
}

// run runs the tasks concurrently, at most MaxConcurrency at a time, each under taskCtx, and
// returns their findings by the deadline of ctx, in task order (conc's result pool returns them
// in completion order).
func (e *Enricher) run(ctx, taskCtx context.Context, tasks []task) []finding {
	type indexed struct {
		i int
		f finding
	}
	p := pool.NewWithResults[indexed]().WithMaxGoroutines(e.o.MaxConcurrency)
	for i, t := range tasks {
		p.Go(func() indexed { return indexed{i, e.runOne(ctx, taskCtx, t)} })
	}
	results := p.Wait()
	slices.SortFunc(results, func(x, y indexed) int { return x.i - y.i })
	findings := make([]finding, len(results))
	for i, r := range results {
		findings[i] = r.f
	}
	return findings
}

// The states of one enricher's goroutine, decided once by whoever gets there first: the
// enricher finishing, or the deadline abandoning it.
const (
	running int32 = iota
	finished
	abandoned
)

// runOne runs one enricher in a goroutine of its own, under taskCtx, and returns its finding, or
// a timeout finding at the deadline of ctx if the enricher has not returned by then (its finding
// may still come through the finding's late channel); a panic becomes a failed finding.
//
// This goroutine is the one exception to "no goroutine outlives its scope" in triage: an
// enricher that ignores its context (a library call without one, a bug) must not hold the
// report, so it is abandoned at the deadline and left to finish on its own. The
// triaged_enrichment_overdue_goroutines gauge counts those still running, so a leak shows.
func (e *Enricher) runOne(ctx, taskCtx context.Context, t task) finding {
	start := time.Now()
	done := make(chan finding, 1)
	var state atomic.Int32
	go func() {
		var f finding
		defer func() {
			if v := recover(); v != nil {
				f = finding{err: fmt.Errorf("%s enricher panicked: %v", t.kind, v), outcome: Failed}
			}
			done <- f
			if !state.CompareAndSwap(running, finished) {
				e.metrics.overdue.Dec()
			}
		}()
		f = t.run(taskCtx)
	}()
	var f finding
	select {
	case f = <-done:
		if f.outcome == "" && f.err == nil && ctx.Err() != nil {
			f.outcome = Timeout
		}
	case <-ctx.Done():
		if state.CompareAndSwap(running, abandoned) {
			e.metrics.overdue.Inc()
			f = finding{err: fmt.Errorf("still running at the deadline: %w", context.Cause(ctx)), outcome: Timeout, late: done}
		} else {
			f = <-done // it finished just as the deadline passed
		}
	}
	if f.outcome == "" {
		f.outcome = OK
	}
	f.elapsed = time.Since(start)
	return f
}
