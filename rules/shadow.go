package rules

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged"
)

// Bounds of what the shadow rules keep of their disagreements.
const (
	// DefaultShadowMaxDisagreements is how many of the latest disagreements are kept.
	DefaultShadowMaxDisagreements = 200
	// ShadowMaxLabels and ShadowMaxLabelValue bound the labels kept with a disagreement: the
	// first labels in name order, each value cut to so many bytes.
	ShadowMaxLabels     = 32
	ShadowMaxLabelValue = 256
)

// Dropped is the word the shadow rules use for "a rule dropped the alert" where a severity
// would stand.
const Dropped = "dropped"

// ShadowOptions configure a Shadow. The zero value works.
type ShadowOptions struct {
	// Registerer receives the comparison's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Location is the time zone the shadow rules see time of day in, the rules in force's.
	Location *time.Location
	// Rules is the shadow set already loaded from the files (package load); nil loads them.
	Rules *RuleSet
	// MaxDisagreements is how many of the latest disagreements are kept;
	// DefaultShadowMaxDisagreements when not positive.
	MaxDisagreements int
	// Now is the clock of ShadowStatus.Since; time.Now when nil.
	Now func() time.Time
}

// Shadow is a candidate rule set evaluated beside the rules in force: it classifies (and
// escalates) every alert the rules in force do, changes nothing, and counts and keeps where the
// two disagree on the severity. It reloads its files as an Engine does, all or nothing; what it
// kept is of one shadow set and starts again when the set changes.
type Shadow struct {
	engine   *Engine // its metrics registered nowhere: the comparison's are the shadow's series
	location *time.Location
	logger   *slog.Logger
	max      int
	now      func() time.Time

	evaluations   *prometheus.CounterVec
	disagreements *prometheus.CounterVec
	matches       *prometheus.CounterVec

	mu      sync.Mutex
	version string // of the shadow set what follows is of
	since   time.Time
	counted map[Stage]int64
	moves   map[[2]string]int64 // {from, to}
	latest  []ShadowDisagreement
	next    int // where latest is written next, once full
}

// ShadowSide is what one rule set decided of an alert: its severity ("P1".."P4", or "dropped")
// and the deciding rule ("default" when none matched; at escalation, the escalation rules that
// matched, comma-separated, "" when none did).
type ShadowSide struct {
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
}

// ShadowDisagreement is one alert the shadow set decided otherwise than the rules in force.
type ShadowDisagreement struct {
	Time        time.Time         `json:"time"`
	Stage       Stage             `json:"stage"`
	AlertName   string            `json:"alertname"`
	Service     string            `json:"service"`
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	// LabelsOmitted counts the labels beyond ShadowMaxLabels left out.
	LabelsOmitted int        `json:"labels_omitted,omitempty"`
	InForce       ShadowSide `json:"in_force"`
	Shadow        ShadowSide `json:"shadow"`
}

// ShadowTransition counts the alerts that went From one severity in force To another in the
// shadow set.
type ShadowTransition struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int64  `json:"count"`
}

// ShadowStatus is what the shadow set has seen since it was loaded, on this replica.
type ShadowStatus struct {
	Version string    `json:"version"`
	Files   []string  `json:"files"`
	Since   time.Time `json:"since"`
	// Evaluations counts the comparisons by stage: classify (every alert triaged) and escalate
	// (every incident investigated).
	Evaluations   map[Stage]int64    `json:"evaluations"`
	Disagreements int64              `json:"disagreements"`
	Transitions   []ShadowTransition `json:"transitions"`
	// Latest are the latest disagreements, newest first; Kept is how many are kept at most.
	Latest []ShadowDisagreement `json:"latest"`
	Kept   int                  `json:"kept"`
}

// NewShadow loads the shadow rule files, unless opts.Rules holds them already. Unlike an
// Engine's, they must be named: there is no default candidate.
func NewShadow(files []string, opts ShadowOptions) (*Shadow, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("shadow rules: no rule files")
	}
	logger := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)).With("set", "shadow")
	e, err := NewEngine(files, EngineOptions{Logger: logger, Location: opts.Location, Rules: opts.Rules})
	if err != nil {
		return nil, fmt.Errorf("shadow %w", err)
	}
	f := promauto.With(opts.Registerer)
	s := &Shadow{
		engine:   e,
		location: e.location,
		logger:   e.logger,
		max:      opts.MaxDisagreements,
		now:      opts.Now,
		evaluations: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_rules_shadow_evaluations_total",
			Help: `Alerts the shadow rules (rules.shadow_files) decided beside the rules in force, by stage: "classify" (every alert triaged) or "escalate" (every incident investigated).`,
		}, []string{"stage"}),
		disagreements: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_rules_shadow_disagreements_total",
			Help: `Alerts the shadow rules decided otherwise than the rules in force, by the severity in force (from) and the shadow set's (to): "P1".."P4" or "dropped".`,
		}, []string{"from", "to"}),
		matches: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_rules_shadow_matches_total",
			Help: `The rules that decided the alerts compared, by side ("in_force" or "shadow"), stage and rule ("default" when none matched).`,
		}, []string{"side", "stage", "rule"}),
	}
	if s.max <= 0 {
		s.max = DefaultShadowMaxDisagreements
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(shadowInfo{e})
	}
	s.mu.Lock()
	s.reset(e.Current().Version())
	s.mu.Unlock()
	return s, nil
}

// Files returns the shadow rule files, for the daemon to report.
func (s *Shadow) Files() []string { return s.engine.Files() }

// Current returns the shadow set in use.
func (s *Shadow) Current() *RuleSet { return s.engine.Current() }

// Reload builds a new shadow set from the same files and swaps it in; on any error the current
// one stays, and the error names every problem.
func (s *Shadow) Reload() error {
	if err := s.engine.Reload(); err != nil {
		return fmt.Errorf("shadow %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync(s.engine.Current().Version())
	return nil
}

// Watch reloads the shadow set whenever one of its files changes on disk, until ctx is done.
func (s *Shadow) Watch(ctx context.Context) error { return s.engine.Watch(ctx) }

// CompareClassify classifies the alert that the rules in force classified as inForce, with the
// shadow set, the same service and time, and records whether they disagree.
func (s *Shadow) CompareClassify(inForce triaged.Classification, a *triaged.Alert, svc triaged.Service, now time.Time) {
	rs := s.engine.Current()
	c, errs := rs.ClassifyWithErrors(a, svc, now.In(s.location))
	s.failed(rs, a, errs)
	s.count("in_force", StageClassify, cmp.Or(inForce.Rule, DefaultRuleName))
	s.count("shadow", StageClassify, cmp.Or(c.Rule, DefaultRuleName))
	s.compare(rs, StageClassify, a, svc, now, classifySide(inForce), classifySide(c))
}

// CompareEscalate escalates base, the classification that the rules in force escalated into
// inForce, with the shadow set's escalation rules over the same enrichment, and records whether
// they disagree. Both sides start from the same classification, so that an alert whose
// classification differs is counted once, at classification, and here only what the
// escalation rules themselves change.
func (s *Shadow) CompareEscalate(base, inForce triaged.Classification, a *triaged.Alert, svc triaged.Service, enr triaged.Enrichment, now time.Time) {
	rs := s.engine.Current()
	c, errs := rs.EscalateWithErrors(base, a, svc, enr, now.In(s.location))
	s.failed(rs, a, errs)
	n := len(base.Decisions)
	for _, d := range decisionsAfter(inForce, n) {
		s.count("in_force", StageEscalate, d.Rule)
	}
	for _, d := range decisionsAfter(c, n) {
		s.count("shadow", StageEscalate, d.Rule)
	}
	s.compare(rs, StageEscalate, a, svc, now, escalateSide(inForce, n), escalateSide(c, n))
}

func classifySide(c triaged.Classification) ShadowSide {
	side := ShadowSide{Severity: c.Severity.String(), Rule: cmp.Or(c.Rule, DefaultRuleName)}
	if c.Dropped {
		side.Severity = Dropped
	}
	return side
}

// escalateSide names the escalation rules that matched: the decisions after the first n.
func escalateSide(c triaged.Classification, n int) ShadowSide {
	var names []string
	for _, d := range decisionsAfter(c, n) {
		names = append(names, d.Rule)
	}
	return ShadowSide{Severity: c.Severity.String(), Rule: strings.Join(names, ",")}
}

func decisionsAfter(c triaged.Classification, n int) []triaged.Decision {
	if n > len(c.Decisions) {
		return nil
	}
	return c.Decisions[n:]
}

func (s *Shadow) compare(rs *RuleSet, stage Stage, a *triaged.Alert, svc triaged.Service, now time.Time, inForce, shadow ShadowSide) {
	s.evaluations.WithLabelValues(string(stage)).Inc()
	differ := inForce.Severity != shadow.Severity
	if differ {
		s.disagreements.WithLabelValues(inForce.Severity, shadow.Severity).Inc()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sync(rs.Version()) {
		return // decided by a set just replaced: it belongs to neither
	}
	s.counted[stage]++
	if !differ {
		return
	}
	s.moves[[2]string{inForce.Severity, shadow.Severity}]++
	d := ShadowDisagreement{
		Time: now, Stage: stage, AlertName: a.Name(), Service: svc.Name, Fingerprint: a.ID(),
		InForce: inForce, Shadow: shadow,
	}
	d.Labels, d.LabelsOmitted = boundLabels(a.Labels)
	if len(s.latest) < s.max {
		s.latest = append(s.latest, d)
		return
	}
	s.latest[s.next] = d
	s.next = (s.next + 1) % s.max
}

func (s *Shadow) count(side string, stage Stage, rule string) {
	s.matches.WithLabelValues(side, string(stage), rule).Inc()
}

// sync makes what is kept that of the shadow set version, starting again if the set changed,
// and reports whether version is the set in use. It is called with mu held.
func (s *Shadow) sync(version string) bool {
	if version == s.version {
		return true
	}
	if version != s.engine.Current().Version() {
		return false
	}
	s.reset(version)
	// The shadow side's series of the previous set would otherwise stay exported forever.
	s.matches.DeletePartialMatch(prometheus.Labels{"side": "shadow"})
	return true
}

func (s *Shadow) reset(version string) {
	s.version, s.since = version, s.now()
	s.counted = map[Stage]int64{StageClassify: 0, StageEscalate: 0}
	s.moves = map[[2]string]int64{}
	s.latest, s.next = nil, 0
}

func (s *Shadow) failed(rs *RuleSet, a *triaged.Alert, errs []RuleError) {
	for _, re := range errs {
		s.logger.Warn("shadow rule failed, skipped", "stage", re.Stage, "rule", re.Rule,
			"alertname", a.Name(), "fingerprint", a.ID(), "version", rs.Version(), "err", re.Err)
	}
}

// Status returns what the shadow set has seen since it was loaded, with at most limit of the
// latest disagreements, newest first (all that are kept when limit is not positive).
func (s *Shadow) Status(limit int) ShadowStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync(s.engine.Current().Version())
	st := ShadowStatus{
		Version: s.version, Files: s.engine.Current().Files(), Since: s.since,
		Evaluations: maps.Clone(s.counted), Kept: s.max, Transitions: []ShadowTransition{},
	}
	for k, n := range s.moves {
		st.Transitions = append(st.Transitions, ShadowTransition{From: k[0], To: k[1], Count: n})
		st.Disagreements += n
	}
	slices.SortFunc(st.Transitions, func(a, b ShadowTransition) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	n := len(s.latest)
	if limit <= 0 || limit > n {
		limit = n
	}
	st.Latest = make([]ShadowDisagreement, 0, limit)
	for i := range limit {
		// The newest is just before next once the ring is full, else the last appended.
		st.Latest = append(st.Latest, s.latest[(s.next-1-i+2*n)%n])
	}
	return st
}

// boundLabels keeps the first ShadowMaxLabels labels in name order, each value cut to
// ShadowMaxLabelValue bytes on a rune boundary, and counts those left out.
func boundLabels(ls map[string]string) (map[string]string, int) {
	names := slices.Sorted(maps.Keys(ls))
	omitted := max(0, len(names)-ShadowMaxLabels)
	names = names[:len(names)-omitted]
	out := make(map[string]string, len(names))
	for _, k := range names {
		v := ls[k]
		if len(v) > ShadowMaxLabelValue {
			cut := ShadowMaxLabelValue
			for cut > 0 && !utf8.RuneStart(v[cut]) {
				cut--
			}
			v = v[:cut] + "…"
		}
		out[k] = v
	}
	return out, omitted
}

// shadowInfo exports the shadow set's version as it is at scrape time, reloads included.
type shadowInfo struct{ e *Engine }

var shadowInfoDesc = prometheus.NewDesc("triaged_rules_shadow_info",
	"The shadow rule set (rules.shadow_files) evaluated beside the rules in force: version is its content hash. Always 1.",
	[]string{"version"}, nil)

func (i shadowInfo) Describe(ch chan<- *prometheus.Desc) { ch <- shadowInfoDesc }

func (i shadowInfo) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(shadowInfoDesc, prometheus.GaugeValue, 1, i.e.Current().Version())
}
