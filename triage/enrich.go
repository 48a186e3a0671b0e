package triage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/sourcegraph/conc/pool"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/catalog"
	"github.com/triaged/triaged/deploy"
	"github.com/triaged/triaged/logtail"
	"github.com/triaged/triaged/probe"
	"github.com/triaged/triaged/redact"
	"github.com/triaged/triaged/runbooks"
)

// DeployIndex finds the deploys that preceded an incident, without a network round trip.
type DeployIndex interface {
	Correlate(service string, dependencies []string, environment string, alertStart time.Time, window, suspectWindow time.Duration) deploy.Correlation
}

// RunbookLibrary picks the runbook for an incident.
type RunbookLibrary interface {
	Find(in runbooks.Input) runbooks.Result
}

// EnrichOptions wire the enricher. Nil parts are reported as not collected.
type EnrichOptions struct {
	Catalog  *catalog.Catalog
	Deploys  DeployIndex
	Runbooks RunbookLibrary
	Redactor *redact.Redactor
	// Timeout is the one deadline for everything gathered about one incident.
	Timeout        time.Duration
	MaxConcurrency int
	DeployWindow   time.Duration
	SuspectWindow  time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// Enrich gathers the recent deploys, health probes, log tails and runbook of an incident
// concurrently, under one deadline.
type Enrich struct {
	o       EnrichOptions
	log     *slog.Logger
	metrics *enrichMetrics
}

type enrichMetrics struct {
	duration *prometheus.HistogramVec
	results  *prometheus.CounterVec
}

// Enricher kinds, the values of the "enricher" metric label.
var enricherKinds = []string{"deploys", "probe", "logs", "runbook"}

// NewEnrich returns the enricher the daemon uses.
func NewEnrich(o EnrichOptions) *Enrich {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 8
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(o.Registerer)
	m := &enrichMetrics{
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triaged_enrichment_duration_seconds",
			Help:    "Time one enricher took for one incident.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"enricher"}),
		results: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_enrichment_results_total",
			Help: "Enricher runs by outcome: ok, failed (an error, a failed probe), timeout (the deadline cut it off).",
		}, []string{"enricher", "outcome"}),
	}
	for _, k := range enricherKinds {
		m.duration.WithLabelValues(k)
		for _, out := range []string{"ok", "failed", "timeout"} {
			m.results.WithLabelValues(k, out)
		}
	}
	return &Enrich{o: o, log: o.Logger.With("component", "enrich"), metrics: m}
}

// finding is one enricher's result; exactly one of its parts is set.
type finding struct {
	index       int
	kind        string
	changes     *deploy.Correlation
	probe       *triaged.Probe
	logs        *triaged.LogTail
	runbook     *runbooks.Result
	err         error
	elapsed     time.Duration
	outcome     string
	description string
}

// errDeadline is the cause given to enrichers cut off by the incident's deadline.
var errDeadline = errors.New("triage deadline reached")

// Resolution is the service an alert maps to.
type Resolution struct {
	// Service is the catalog's entry, nil when none matches; From says how it matched.
	Service *catalog.Service
	From    string
	// Name and Environment are the service and environment triage works with: the catalog's,
	// else the alert's labels, else "unknown" when a catalog exists but does not know the alert.
	Name, Environment string
	// Unknown is set when a catalog exists but no entry matches the alert.
	Unknown bool
}

// Resolve maps the alert to its service in the catalog.
func (e *Enrich) Resolve(a *triaged.Alert) Resolution { return resolve(a, e.o.Catalog) }

func resolve(a *triaged.Alert, cat *catalog.Catalog) Resolution {
	svc, how := cat.Lookup(a)
	name, env := resolveService(a, svc, cat)
	return Resolution{Service: svc, From: how, Name: name, Environment: env, Unknown: svc == nil && cat.Len() > 0}
}

// Enrich runs every enricher the incident's service calls for at once, at most MaxConcurrency at
// a time, each under the incident's deadline. An enricher that fails, or is still running at the
// deadline, yields a finding with its error; Enrich itself returns by the deadline whatever the
// enrichers do, so a hanging one never holds the report or the worker.
func (e *Enrich) Enrich(ctx context.Context, a *triaged.Alert, res Resolution, cls triaged.Classification) Enrichment {
	ctx, cancel := context.WithTimeoutCause(ctx, e.o.Timeout, errDeadline)
	defer cancel()

	enr := Enrichment{Resolution: res}
	svc, service, environment := res.Service, res.Name, res.Environment

	type task struct {
		kind, description string
		run               func(context.Context) finding
	}
	var tasks []task
	if e.o.Deploys != nil && service != "unknown" {
		var deps []string
		if svc != nil {
			deps = svc.Dependencies
		}
		tasks = append(tasks, task{"deploys", "recent deploys", func(context.Context) finding {
			c := e.o.Deploys.Correlate(service, deps, environment, a.StartsAt, e.o.DeployWindow, e.o.SuspectWindow)
			return finding{changes: &c}
		}})
	} else if e.o.Deploys == nil {
		enr.pend("recent_changes", "no deploy index is configured")
	} else {
		enr.pend("recent_changes", "the affected service is unknown, so its deploys cannot be looked up")
	}
	if svc != nil {
		for _, c := range svc.Checks() {
			tasks = append(tasks, task{"probe", "probe " + c.Name(), func(ctx context.Context) finding {
				p := probe.Run(ctx, c, a.Labels, e.o.Redactor)
				f := finding{probe: &p}
				if !p.OK {
					f.outcome = "failed"
				}
				return f
			}})
		}
		for _, src := range svc.LogSources() {
			tasks = append(tasks, task{"logs", "logs " + src.Name(), func(ctx context.Context) finding {
				l := logtail.Tail(ctx, src, a.Labels, e.o.Redactor)
				f := finding{logs: &l}
				if l.Error != "" {
					f.outcome = "failed"
				}
				return f
			}})
		}
	}
	switch {
	case svc == nil:
		enr.pend("probes", "the service is not in the service catalog, so no health probes are known for it")
		enr.pend("logs", "the service is not in the service catalog, so no log sources are known for it")
	default:
		if len(svc.Checks()) == 0 {
			enr.pend("probes", "no health probes are configured for service "+svc.Name)
		}
		if len(svc.LogSources()) == 0 {
			enr.pend("logs", "no log sources are configured for service "+svc.Name)
		}
	}
	if e.o.Runbooks == nil {
		enr.pend("runbook", "no runbook library is configured")
	} else {
		in := runbooks.NewInput(a)
		in.Service, in.Environment, in.Severity = service, environment, cls.Severity
		tasks = append(tasks, task{"runbook", "runbook", func(context.Context) finding {
			r := e.o.Runbooks.Find(in)
			return finding{runbook: &r}
		}})
	}

	p := pool.NewWithResults[finding]().WithMaxGoroutines(e.o.MaxConcurrency)
	for i, t := range tasks {
		p.Go(func() finding {
			f := e.runOne(ctx, t.kind, t.run)
			f.index, f.kind, f.description = i, t.kind, t.description
			return f
		})
	}
	findings := p.Wait()
	slices.SortFunc(findings, func(x, y finding) int { return x.index - y.index })

	for _, f := range findings {
		e.metrics.duration.WithLabelValues(f.kind).Observe(f.elapsed.Seconds())
		e.metrics.results.WithLabelValues(f.kind, f.outcome).Inc()
		if f.err != nil {
			e.log.Warn("enricher did not finish", "enricher", f.description, "alertname", a.Name(), "fingerprint", a.ID(), "err", f.err)
		}
		switch {
		case f.changes != nil:
			enr.Changes, enr.ChangesSummary = f.changes.Changes, f.changes.Summary
		case f.probe != nil:
			enr.Probes = append(enr.Probes, *f.probe)
		case f.logs != nil:
			enr.Logs = append(enr.Logs, *f.logs)
		case f.runbook != nil:
			if rb := f.runbook.Runbook; rb != nil {
				rb.SeverityHint = f.runbook.SeverityHint
				rb.Why = f.runbook.Reasons
				enr.Runbook = rb
			}
		case f.err != nil:
			enr.Observations = append(enr.Observations, fmt.Sprintf("%s: not collected: %v", capitalize(f.description), f.err))
			e.placeholder(&enr, f)
		}
	}
	if enr.Unknown {
		enr.Observations = append(enr.Observations, "No service of the catalog matches this alert: no owners, probes or log sources are known for it")
	}
	return enr
}

// placeholder keeps a timed-out probe or log source visible in its section.
func (e *Enrich) placeholder(enr *Enrichment, f finding) {
	name := strings.TrimPrefix(strings.TrimPrefix(f.description, "probe "), "logs ")
	switch f.kind {
	case "probe":
		enr.Probes = append(enr.Probes, triaged.Probe{Name: name, OK: false, Error: f.err.Error()})
	case "logs":
		enr.Logs = append(enr.Logs, triaged.LogTail{Source: name, Lines: []string{}, Error: f.err.Error()})
	}
}

// runOne runs one enricher in its own goroutine and returns its finding, or a timeout finding at
// the deadline if the enricher has not returned by then; a panic becomes an error finding.
func (e *Enrich) runOne(ctx context.Context, kind string, run func(context.Context) finding) finding {
	start := time.Now()
	done := make(chan finding, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- finding{err: fmt.Errorf("%s enricher panicked: %v", kind, v), outcome: "failed"}
			}
		}()
		done <- run(ctx)
	}()
	var f finding
	select {
	case f = <-done:
		if f.outcome == "" && f.err == nil && ctx.Err() != nil {
			f.outcome = "timeout"
		}
	case <-ctx.Done():
		f = finding{err: fmt.Errorf("still running at the deadline: %w", context.Cause(ctx)), outcome: "timeout"}
	}
	if f.outcome == "" {
		f.outcome = "ok"
	}
	f.elapsed = time.Since(start)
	return f
}

// resolveService names the affected service and environment for enrichment: the catalog's
// service when one matches; without a catalog, the alert's own service label; with a catalog that
// does not know the alert, "unknown".
func resolveService(a *triaged.Alert, svc *catalog.Service, cat *catalog.Catalog) (string, string) {
	env := firstLabel(a, "env", "environment")
	if svc != nil {
		if svc.Environment != "" {
			env = svc.Environment
		}
		return svc.Name, env
	}
	if cat.Len() > 0 {
		return "unknown", env
	}
	name, _ := affectedService(a)
	return name, env
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
