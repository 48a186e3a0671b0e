// Package backtest replays the history of alerts through two rule sets, the baseline (the rules
// in force) and a candidate, and measures the difference: which severities change, which rule
// now decides, which incidents change severity and which pages the candidate adds or removes —
// what a rule author needs to see before shipping a change (triagetool backtest).
package backtest

import (
	"cmp"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/rules"
)

// Defaults of the bounds in Options.
const (
	DefaultExamples  = 3
	DefaultKeys      = 1000
	DefaultIncidents = 100_000
	DefaultListed    = 20
	// batchSize records go to a worker at once: large enough that the channel is not the cost,
	// small enough that the progress moves smoothly.
	batchSize = 256
)

// Options say what to replay through and within which bounds.
type Options struct {
	Baseline, Candidate *rules.RuleSet
	// Location is the time zone of hour, weekday and business_hours(): the daemon's
	// rules.timezone. nil means UTC.
	Location *time.Location
	// InForce, when set, says the baseline stands for the rules in force: every record must have
	// been decided by the baseline's version, else Run fails with ErrVersionMismatch.
	InForce bool
	// Workers evaluate records concurrently; 0 means GOMAXPROCS.
	Workers int
	// Examples is how many examples each alertname and service keeps (the earliest).
	Examples int
	// Keys bounds the alertnames and the services tracked each; changes of others are counted in
	// LeftOut.
	Keys int
	// Incidents bounds the incidents (history groups) tracked; records of others are counted in
	// LeftOut.
	Incidents int
	// Listed is how many changed incidents the result lists (all are counted).
	Listed int
	// Progress, when set, is called from one goroutine with the records done so far (replayed,
	// or counted and skipped), after each batch.
	Progress func(done int)
}

func (o *Options) defaults() {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Examples <= 0 {
		o.Examples = DefaultExamples
	}
	if o.Keys <= 0 {
		o.Keys = DefaultKeys
	}
	if o.Incidents <= 0 {
		o.Incidents = DefaultIncidents
	}
	if o.Listed <= 0 {
		o.Listed = DefaultListed
	}
}

// ErrVersionMismatch says the history was decided by rules other than the baseline given as the
// rules in force.
var ErrVersionMismatch = errors.New("the history was decided by other rules than the baseline")

// Source hands every record to fn, oldest first, as history.Read does.
type Source func(ctx context.Context, fn func(history.Record) error) (history.Stats, error)

// Stage names which rules a replayed record went through.
const (
	// StageClassify: an alert record, classified.
	StageClassify = "classify"
	// StageEscalate: an incident opening, classified and escalated over its stored evidence.
	StageEscalate = "escalate"

	// Records that are counted, not replayed: openings without evidence, unknown kinds.
	stageNoEvidence = "no-evidence"
	stageUnknown    = "unknown"
)

// outcome is one record replayed under both rule sets.
type outcome struct {
	seq   int
	stage string
	// rec is let go once evaluated unless the record changed: only examples need it.
	rec                       *history.Record
	group, alertname, service string
	before, after             decision
	// mismatch is the version the record was decided by when InForce and it is not the baseline's.
	mismatch string
}

// decision is what one rule set made of a record: Severity 0 when dropped.
type decision struct {
	sev  triaged.Severity
	rule string
}

// Run replays every record src gives through both rule sets and returns the difference.
func Run(ctx context.Context, src Source, o Options) (*Result, error) {
	if o.Baseline == nil || o.Candidate == nil {
		return nil, errors.New("backtest: both a baseline and a candidate rule set are needed")
	}
	o.defaults()

	batches := make(chan []outcome, o.Workers*2)
	results := make(chan []outcome, o.Workers*2)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				for i := range b {
					if b[i].rec != nil {
						evaluate(&b[i], &o)
					}
				}
				select {
				case results <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	agg := newAggregate(&o)
	aggDone := make(chan struct{})
	go func() {
		defer close(aggDone)
		for b := range results {
			agg.add(b)
		}
	}()

	seq := 0
	batch := make([]outcome, 0, batchSize)
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := context.Cause(ctx); err != nil {
			return err // before the select, which may pick a free slot over a context that ended
		}
		select {
		case batches <- batch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		batch = make([]outcome, 0, batchSize)
		return nil
	}
	var first, last time.Time
	stats, readErr := src(ctx, func(rec history.Record) error {
		seq++
		// The records are in the order they were stored, not quite that of their evaluation.
		if first.IsZero() || rec.At.Before(first) {
			first = rec.At
		}
		if rec.At.After(last) {
			last = rec.At
		}
		oc := outcome{seq: seq, stage: StageClassify}
		switch {
		case rec.Kind == history.KindOpening && rec.Evidence != nil:
			oc.stage = StageEscalate
		case rec.Kind == history.KindOpening:
			oc.stage = stageNoEvidence
		case rec.Kind != history.KindAlert:
			oc.stage = stageUnknown
		}
		if oc.stage == StageClassify || oc.stage == StageEscalate {
			oc.rec, oc.group, oc.alertname, oc.service = &rec, rec.Group, rec.Alert.Name(), rec.Service.Name
		}
		// Records not replayed go the same way, so that the aggregate counts them in order with
		// the others and the progress reaches the total.
		batch = append(batch, oc)
		if len(batch) == batchSize {
			return send()
		}
		return nil
	})
	if readErr == nil {
		readErr = send()
	}
	close(batches)
	wg.Wait()
	close(results)
	<-aggDone
	if readErr != nil {
		return nil, readErr
	}
	if err := agg.err(); err != nil {
		return nil, err
	}
	res := agg.result()
	res.First, res.Last, res.Undecodable, res.Truncated = first, last, stats.Skipped, stats.Truncated
	return res, nil
}

// evaluate decides a record under both rule sets, at the time the rules saw it then.
func evaluate(oc *outcome, o *Options) {
	rec := oc.rec
	at := rec.At.In(o.Location)
	oc.before = decide(o.Baseline, oc.stage, rec, at)
	oc.after = decide(o.Candidate, oc.stage, rec, at)
	if o.InForce && !decidedBy(rec.RuleSetVersion, o.Baseline.Version()) {
		oc.mismatch = cmp.Or(rec.RuleSetVersion, "(none recorded)")
	}
	oc.rec = keepForExample(rec, oc)
}

// keepForExample lets the record go unless it may become an example: most records are not
// changed, and the aggregate need not hold them.
func keepForExample(rec *history.Record, oc *outcome) *history.Record {
	if oc.before == oc.after {
		return nil
	}
	return rec
}

// decide is what the daemon does with a record: classification for an alert; for an opening,
// classification of its representative alert (a drop rule does not drop an incident already
// open: it is P4), then escalation over the evidence enrichment found.
func decide(rs *rules.RuleSet, stage string, rec *history.Record, at time.Time) decision {
	c := rs.Classify(&rec.Alert, rec.Service, at)
	if stage == StageClassify {
		if c.Dropped {
			return decision{rule: ruleName(c.Rule)}
		}
		return decision{sev: c.Severity, rule: ruleName(c.Rule)}
	}
	if c.Dropped {
		c.Dropped, c.Severity = false, triaged.P4
	}
	n := len(c.Decisions)
	c = rs.Escalate(c, &rec.Alert, rec.Service, *rec.Evidence, at)
	name := ruleName(c.Rule)
	if len(c.Decisions) > n {
		var b strings.Builder
		b.WriteString(name)
		for _, d := range c.Decisions[n:] {
			b.WriteString(" > ")
			b.WriteString(d.Rule)
		}
		name = b.String()
	}
	return decision{sev: c.Severity, rule: name}
}

func ruleName(r string) string {
	if r == "" {
		return rules.DefaultRuleName
	}
	return r
}

// decidedBy says whether a record's rule set version is version: an opening escalated after a
// reload carries "classifier+escalator", and both must be it.
func decidedBy(recorded, version string) bool {
	if recorded == "" {
		return false
	}
	for v := range strings.SplitSeq(recorded, "+") {
		if v != version {
			return false
		}
	}
	return true
}

// SeverityName is a decision's severity as the result prints it: "dropped" for a dropped alert.
func SeverityName(s triaged.Severity) string {
	if !s.Valid() {
		return Dropped
	}
	return s.String()
}

// Dropped is the name of the outcome of an alert a drop rule decided.
const Dropped = "dropped"
