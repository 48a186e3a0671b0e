package rules

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged"
)

// EngineOptions configure an Engine. The zero value works: no metrics registered, logs
// discarded, time of day in UTC.
type EngineOptions struct {
	// Registerer receives the engine's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Location is the time zone of hour, weekday and business_hours(); nil means UTC.
	Location *time.Location
	// Rules is the rule set already loaded from the files, as package load builds it with the
	// rest of the config, so that the daemon serves what was checked; nil loads the files.
	Rules *RuleSet
}

// Engine is the daemon's handle on its rules: the current RuleSet behind an atomic pointer, the
// rule metrics, and reload. Classify and Escalate may run concurrently with Reload; each call
// uses one rule set from start to end, never a mix of old and new rules.
type Engine struct {
	files    []string
	logger   *slog.Logger
	location *time.Location
	metrics  *engineMetrics

	current atomic.Pointer[loadedRules]
	// previous is the rule set before the last swap, kept so that an alert classified just before
	// a reload is escalated by the same rules.
	previous atomic.Pointer[loadedRules]
	reloadMu sync.Mutex // one reload at a time: SIGHUP, /-/reload and file watching may coincide
	// lastReload is the outcome of the latest load, for Status.
	lastReload atomic.Pointer[ReloadStatus]
}

// loadedRules is a RuleSet with its metric series looked up once, so that counting a match costs
// no label hashing on the hot path.
type loadedRules struct {
	rules    *RuleSet
	matches  map[Stage]map[string]prometheus.Counter
	failures map[Stage]map[string]prometheus.Counter
	// stats count per compiled rule, for Status; they start at zero with each rule set.
	stats     *ruleSetStats
	installed time.Time
}

type engineMetrics struct {
	reloadSuccessful prometheus.Gauge
	reloadTimestamp  prometheus.Gauge
	info             *prometheus.GaugeVec
	matches          *prometheus.CounterVec
	failures         *prometheus.CounterVec
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	f := promauto.With(reg)
	return &engineMetrics{
		reloadSuccessful: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_rules_last_reload_successful",
			Help: "Whether the last rule reload succeeded (1) or failed and kept the previous rules (0).",
		}),
		reloadTimestamp: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_rules_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful rule load, in seconds since the Unix epoch.",
		}),
		info: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "triaged_rules_info",
			Help: "The rule set in use: version is the content hash that reports carry. Always 1.",
		}, []string{"version"}),
		matches: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_rule_matches_total",
			Help: `Alerts a rule decided (stage "classify", rule "default" when none matched) or escalated (stage "escalate").`,
		}, []string{"stage", "rule"}),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_rule_evaluation_failures_total",
			Help: "Rule evaluations that failed at run time; the rule was skipped.",
		}, []string{"stage", "rule"}),
	}
}

// NewEngine loads the rule files (the embedded default rules when there are none), unless
// opts.Rules holds them already, and returns an engine serving them. The initial load must succeed: a daemon should not start without rules.
func NewEngine(files []string, opts EngineOptions) (*Engine, error) {
	e := &Engine{
		files:    slices.Clone(files),
		logger:   opts.Logger,
		location: opts.Location,
		metrics:  newEngineMetrics(opts.Registerer),
	}
	if e.logger == nil {
		e.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e.logger = e.logger.With("component", "rules")
	if e.location == nil {
		e.location = time.UTC
	}
	rs := opts.Rules
	if rs == nil {
		var err error
		if rs, err = LoadFiles(e.files...); err != nil {
			e.metrics.reloadSuccessful.Set(0)
			return nil, fmt.Errorf("load rules: %w", err)
		}
	}
	e.swap(rs)
	e.recordReload(nil)
	return e, nil
}

// Files returns the rule files, in order, for the daemon to watch.
func (e *Engine) Files() []string { return slices.Clone(e.files) }

// Current returns the rule set in use.
func (e *Engine) Current() *RuleSet { return e.current.Load().rules }

// Reload builds a whole new rule set from the same files and swaps it in. On any error the
// current rules stay in use, triaged_rules_last_reload_successful drops to 0, and the error (all
// problems of all files) is logged and returned, e.g. for the reply to POST /-/reload.
func (e *Engine) Reload() error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	rs, err := LoadFiles(e.files...)
	if err != nil {
		e.metrics.reloadSuccessful.Set(0)
		e.logger.Error("reloading rules failed, keeping the current rules",
			"files", e.files, "version", e.Current().Version(), "err", err)
		err = fmt.Errorf("reload rules: %w", err)
		e.recordReload(err)
		return err
	}
	e.swap(rs)
	e.recordReload(nil)
	return nil
}

// swap makes rs current and sets the load metrics.
func (e *Engine) swap(rs *RuleSet) {
	next := &loadedRules{
		rules:    rs,
		matches:  map[Stage]map[string]prometheus.Counter{},
		failures: map[Stage]map[string]prometheus.Counter{},
		stats:    newRuleSetStats(rs),
		// Every load installs a new rule set, even of unchanged files: its counts start here.
		installed: time.Now().UTC(),
	}
	for _, stage := range []Stage{StageClassify, StageEscalate} {
		next.matches[stage] = map[string]prometheus.Counter{}
		next.failures[stage] = map[string]prometheus.Counter{}
		names := []string{}
		for _, r := range rs.Rules(stage) {
			names = append(names, r.Name)
		}
		if stage == StageClassify {
			names = append(names, DefaultRuleName)
		}
		for _, name := range names {
			// Pre-created, so that a rule that never matched shows 0 rather than nothing.
			next.matches[stage][name] = e.metrics.matches.WithLabelValues(string(stage), name)
			if name != DefaultRuleName {
				next.failures[stage][name] = e.metrics.failures.WithLabelValues(string(stage), name)
			}
		}
	}
	prev := e.current.Swap(next)
	if prev != nil {
		e.previous.Store(prev)
		// Series of rules that no longer exist would otherwise be exported forever.
		for stage, counters := range prev.matches {
			for name := range counters {
				if _, ok := next.matches[stage][name]; !ok {
					e.metrics.matches.DeleteLabelValues(string(stage), name)
					e.metrics.failures.DeleteLabelValues(string(stage), name)
				}
			}
		}
	}
	e.metrics.info.Reset()
	e.metrics.info.WithLabelValues(rs.Version()).Set(1)
	e.metrics.reloadSuccessful.Set(1)
	e.metrics.reloadTimestamp.SetToCurrentTime()
	e.logger.Info("rules loaded", "version", rs.Version(), "files", rs.Files(),
		"rules", len(rs.rules), "escalations", len(rs.escalations), "default", rs.DefaultSeverity())
	for _, w := range rs.Warnings() {
		e.logger.Warn("rule lint", "warning", w.String())
	}
}

// Classify classifies an alert about service svc with the current rules, in the engine's time
// zone, counting the deciding rule and any rule that failed.
func (e *Engine) Classify(a *triaged.Alert, svc triaged.Service, now time.Time) triaged.Classification {
	cur := e.current.Load()
	c, i, errs := cur.rules.classify(a, svc, now.In(e.location))
	rule := c.Rule
	if rule == "" {
		rule = DefaultRuleName
	}
	cur.count(StageClassify, rule)
	if i < 0 {
		i = len(cur.stats.classify) - 1 // the default's
	}
	cur.stats.classify[i].count(now)
	e.failed(cur, a, errs)
	return c
}

// Escalate runs the escalation rules over what enrichment found, counting each rule that matched
// and any that failed. It uses the rule set that classified c (c.RuleSetVersion), even when a
// reload swapped in another between the two calls, so an alert is never decided by a mix.
func (e *Engine) Escalate(c triaged.Classification, a *triaged.Alert, svc triaged.Service, f triaged.Enrichment, now time.Time) triaged.Classification {
	cur := e.current.Load()
	if prev := e.previous.Load(); cur.rules.Version() != c.RuleSetVersion && prev != nil && prev.rules.Version() == c.RuleSetVersion {
		cur = prev
	}
	n := len(c.Decisions)
	c, errs := cur.rules.escalate(c, a, svc, f, now.In(e.location), func(i int) { cur.stats.escalate[i].count(now) })
	for _, d := range c.Decisions[n:] {
		cur.count(StageEscalate, d.Rule)
	}
	e.failed(cur, a, errs)
	return c
}

func (l *loadedRules) count(stage Stage, rule string) {
	if c, ok := l.matches[stage][rule]; ok {
		c.Inc()
	}
}

func (e *Engine) failed(cur *loadedRules, a *triaged.Alert, errs []RuleError) {
	for _, re := range errs {
		if c, ok := cur.failures[re.Stage][re.Rule]; ok {
			c.Inc()
		}
		e.logger.Warn("rule failed, skipped", "stage", re.Stage, "rule", re.Rule,
			"alertname", a.Name(), "fingerprint", a.ID(), "version", cur.rules.Version(), "err", re.Err)
	}
}
