package enrich

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/catalog"
	"github.com/triaged/triaged/deploy"
	"github.com/triaged/triaged/graph"
	"github.com/triaged/triaged/logtail"
	"github.com/triaged/triaged/probe"
	"github.com/triaged/triaged/promquery"
	"github.com/triaged/triaged/redact"
	"github.com/triaged/triaged/runbooks"
)

// DeployIndex finds the deploys that preceded an incident, without a network round trip.
type DeployIndex interface {
	Correlate(q deploy.Query) deploy.Correlation
}

// RunbookLibrary picks the runbook for an incident.
type RunbookLibrary interface {
	Find(in runbooks.Input) runbooks.Result
}

// Options wire an Enricher. Nil parts are reported as not collected.
type Options struct {
	Catalog  *catalog.Catalog
	Deploys  DeployIndex
	Runbooks RunbookLibrary
	Redactor *redact.Redactor
	// Timeout is the one deadline for everything gathered about one incident: the opening goes
	// out with what is done by then.
	Timeout time.Duration
	// Grace lets enrichers still running at the deadline go on this much longer; what they find
	// in it is handed over by Enrich's late function. 0: they are cut off at the deadline.
	Grace          time.Duration
	MaxConcurrency int
	DeployWindow   time.Duration
	SuspectWindow  time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
	// Prometheus are the query APIs the metrics evidence comes from; nil: none is configured
	// (SetPrometheus swaps them on a reload). RenderGraph draws a PNG of a query's window;
	// nil draws none.
	Prometheus  *promquery.Servers
	RenderGraph func(graph.Spec) ([]byte, error)
}

// Enricher gathers the enrichment of new incidents. It is safe for concurrent use.
type Enricher struct {
	o           Options
	log         *slog.Logger
	metrics     *metrics
	prom        atomic.Pointer[promquery.Servers]
	promMetrics *promquery.Metrics
}

// New returns an Enricher.
func New(o Options) *Enricher {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 8
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Enricher{o: o, log: o.Logger.With("component", "enrich"), metrics: newMetrics(o.Registerer), promMetrics: promquery.NewMetrics(o.Registerer)}
	e.prom.Store(o.Prometheus)
	return e
}

// errDeadline is the cause given to enrichers cut off by the incident's deadline.
var errDeadline = errors.New("triage deadline reached")

// Enrich runs every enricher that an alert about svc calls for at once, at most MaxConcurrency
// at a time, each under the incident's deadline. An enricher that fails, or is still running at
// the deadline, yields its error in the result; Enrich itself returns by the deadline whatever
// the enrichers do, so a hanging one never holds the report or the worker.
//
// When some enrichers were still running at the deadline and a grace is configured, late is not
// nil: it waits, at most until the grace ends, for them, and returns the enrichment again with
// what they found, ok when any of them ended. The enrichers run under ctx, so a caller that never
// calls it leaves them to end with ctx.
func (e *Enricher) Enrich(ctx context.Context, a *triaged.Alert, svc triaged.Service, cls triaged.Classification) (enr triaged.Enrichment, late func() (triaged.Enrichment, bool)) {
	taskCtx, cancelTasks := context.WithTimeoutCause(ctx, e.o.Timeout+e.o.Grace, errDeadline)
	ctx, cancel := context.WithTimeoutCause(ctx, e.o.Timeout, errDeadline)
	defer cancel()
	var base triaged.Enrichment
	tasks := e.plan(a, svc, cls, &base)
	deadline, _ := ctx.Deadline()
	tasks = append(tasks, e.metricsTasks(a, svc, &base, deadline)...)
	findings := e.run(ctx, taskCtx, tasks)
	e.count(a, tasks, findings)
	enr = e.assemble(base, svc, tasks, findings)
	var overdue []int
	for i, f := range findings {
		if f.late != nil {
			overdue = append(overdue, i)
		}
	}
	if len(overdue) == 0 || e.o.Grace <= 0 {
		cancelTasks()
		return enr, nil
	}
	return enr, func() (triaged.Enrichment, bool) {
		defer cancelTasks()
		arrived := false
	collect:
		for _, i := range overdue {
			select {
			case f := <-findings[i].late:
				if f.outcome == "" {
					f.outcome = OK
				}
				findings[i], arrived = f, true
			case <-taskCtx.Done():
				break collect
			}
		}
		if !arrived {
			return triaged.Enrichment{}, false
		}
		return e.assemble(base, svc, tasks, findings), true
	}
}

// assemble is the enrichment of the plan's base (its pending sections) and the findings.
func (e *Enricher) assemble(base triaged.Enrichment, svc triaged.Service, tasks []task, findings []finding) triaged.Enrichment {
	enr := base
	enr.Pending = slices.Clone(base.Pending)
	enr.PendingWhy = maps.Clone(base.PendingWhy)
	enr.Observations = slices.Clone(base.Observations)
	e.merge(&enr, tasks, findings)
	if svc.Catalogue == triaged.NotInCatalog {
		enr.Observations = append(enr.Observations, "No service of the catalog matches this alert: no owners, probes or log sources are known for it")
	}
	return enr
}

// plan lists the enrichers to run for an alert about svc, and marks in enr the sections that
// nothing will collect, with why.
func (e *Enricher) plan(a *triaged.Alert, svc triaged.Service, cls triaged.Classification, enr *triaged.Enrichment) []task {
	var tasks []task
	switch {
	case e.o.Deploys == nil:
		enr.Pend(triaged.SectionRecentChanges, "no deploy index is configured")
	case !svc.Known():
		enr.Pend(triaged.SectionRecentChanges, "the affected service is unknown, so its deploys cannot be looked up")
	default:
		q := deploy.Query{
			Service: svc.Name, Dependencies: svc.Dependencies, Environment: svc.Environment,
			AlertStart: a.StartsAt, Window: e.o.DeployWindow, SuspectWindow: e.o.SuspectWindow,
		}
		if svc.EnvironmentAssumed {
			// An assumed environment must not hide a deploy recorded under another spelling.
			q.Environment = ""
		}
		enr.ChangesWindow = cmp.Or(e.o.DeployWindow, deploy.DefaultWindow)
		tasks = append(tasks, task{kind: KindDeploys, run: func(context.Context) finding {
			c := e.o.Deploys.Correlate(q)
			return finding{changes: &c}
		}})
	}

	var entry *catalog.Service
	if svc.Catalogue == triaged.InCatalog {
		entry = e.o.Catalog.Service(svc.Name)
	}
	if entry == nil {
		enr.Pend(triaged.SectionProbes, "the service is not in the service catalog, so no health probes are known for it")
		enr.Pend(triaged.SectionLogs, "the service is not in the service catalog, so no log sources are known for it")
	} else {
		tasks = append(tasks, e.probeTasks(a, entry.Checks())...)
		tasks = append(tasks, e.logTasks(a, entry.LogSources())...)
		if len(entry.Checks()) == 0 {
			enr.Pend(triaged.SectionProbes, "no health probes are configured for service "+entry.Name)
		}
		if len(entry.LogSources()) == 0 {
			enr.Pend(triaged.SectionLogs, "no log sources are configured for service "+entry.Name)
		}
	}

	if e.o.Runbooks == nil {
		enr.Pend(triaged.SectionRunbook, "no runbook library is configured")
	} else {
		in := runbooks.NewInput(a, svc, cls.Severity)
		tasks = append(tasks, task{kind: KindRunbook, run: func(context.Context) finding {
			r := e.o.Runbooks.Find(in)
			return finding{runbook: &r}
		}})
	}
	return tasks
}

func (e *Enricher) probeTasks(a *triaged.Alert, checks []*probe.Compiled) []task {
	tasks := make([]task, 0, len(checks))
	for _, c := range checks {
		tasks = append(tasks, task{kind: KindProbe, name: c.Name(), run: func(ctx context.Context) finding {
			p := probe.Run(ctx, c, a.Labels, e.o.Redactor)
			f := finding{probe: &p}
			if !p.OK {
				f.outcome = Failed
			}
			return f
		}})
	}
	return tasks
}

func (e *Enricher) logTasks(a *triaged.Alert, sources []*logtail.Compiled) []task {
	tasks := make([]task, 0, len(sources))
	for _, src := range sources {
		tasks = append(tasks, task{kind: KindLogs, name: src.Name(), run: func(ctx context.Context) finding {
			l := logtail.Tail(ctx, src, a.Labels, e.o.Redactor)
			f := finding{logs: &l}
			if l.Error != "" {
				f.outcome = Failed
			}
			return f
		}})
	}
	return tasks
}
