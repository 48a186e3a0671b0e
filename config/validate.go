package config

import (
	"github.com/triaged/triaged"

	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/triaged/triaged/broker"
)

// validate checks the config's own values, a section at a time, and records each problem at the
// key at fault. A check that relates two sections belongs to the section whose key it names.
func (c *Config) validate(p *Problems) {
	v := check{p}
	c.validateNATS(v)
	c.validateIngest(v)
	c.validateLimits(v)
	c.validateTriage(v)
	c.validateIncidents(v)
	c.validateReport(v)
	c.validateBudget(v)
	c.validateEnrichment(v)
	c.validatePrometheus(v)
	c.validateRules(v)
	c.validateSinks(v)
	c.validateDefaults(v)
	c.validateHeartbeat(v)
	c.validateUI(v)
}

// check records problems of the config's values; its helpers are the checks several sections make.
type check struct{ *Problems }

func (v check) positive(path string, d Duration) {
	if d <= 0 {
		v.At(path, "must be a positive duration, got %s", d)
	}
}

func (v check) inRange(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.At(path, "%d is out of range %d..%d", n, lo, hi)
	}
}

func (c *Config) validateNATS(v check) {
	n := c.NATS
	if err := broker.ValidPrefix(n.Prefix); err != nil {
		v.At("nats.prefix", "%v", err)
	}
	v.inRange("nats.replicas", n.Replicas, 1, 5)
	v.positive("nats.duplicate_window", n.DuplicateWindow)
	v.positive("nats.alerts_max_age", n.AlertsMaxAge)
	v.positive("nats.reports_max_age", n.ReportsMaxAge)
	v.positive("nats.incidents_max_age", n.IncidentsMaxAge)
	v.positive("nats.deadletters_max_age", n.DeadLettersMaxAge)
	v.positive("nats.graphs_max_age", n.GraphsMaxAge)
	if n.AlertsMaxAge > 0 && n.DuplicateWindow > n.AlertsMaxAge {
		v.At("nats.duplicate_window", "%s is longer than nats.alerts_max_age %s", n.DuplicateWindow, n.AlertsMaxAge)
	}
	c.validateNATSAccess(v)
	c.validateHistory(v)
}

func (c *Config) validateIngest(v check) {
	v.positive("ingest.publish_timeout", c.Ingest.PublishTimeout)
	if c.Ingest.MaxBodyBytes < 1024 {
		v.At("ingest.max_body_bytes", "%d is below the minimum of 1024 bytes", c.Ingest.MaxBodyBytes)
	}
}

func (c *Config) validateReport(v check) {
	for sev := range c.Report.Escalation {
		if _, err := triaged.ParseSeverity(sev); err != nil {
			v.At("report.escalation."+sev, "%v", err)
		}
	}
}

func (c *Config) validateIncidents(v check) {
	in := c.Incidents
	v.positive("incidents.reopen_window", in.ReopenWindow)
	v.positive("incidents.flap_window", in.FlapWindow)
	v.positive("incidents.flap_stable", in.FlapStable)
	if in.UpdateInterval < 0 {
		v.At("incidents.update_interval", "must not be negative, got %s", in.UpdateInterval)
	}
	if in.ResolveHold < 0 {
		v.At("incidents.resolve_hold", "must not be negative, got %s", in.ResolveHold)
	}
	if in.ReopenWindow > 0 && in.ResolveHold >= in.ReopenWindow {
		v.At("incidents.resolve_hold", "%s must be shorter than incidents.reopen_window %s", in.ResolveHold, in.ReopenWindow)
	}
	v.inRange("incidents.flap_threshold", in.FlapThreshold, 1, 1000)
	for i, l := range in.GroupBy {
		if !validLabelName(l) {
			v.At(fmt.Sprintf("incidents.group_by[%d]", i), "%q is not a valid label name", l)
		}
	}
}

// validLabelName is Prometheus' label name rule.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func (c *Config) validateTriage(v check) {
	t := c.Triage
	v.positive("triage.ack_wait", t.AckWait)
	v.positive("triage.timeout", t.Timeout)
	v.inRange("triage.workers", t.Workers, 1, 4096)
	if t.MaxAckPending < t.Workers {
		v.At("triage.max_ack_pending", "%d is below triage.workers (%d): workers would sit idle", t.MaxAckPending, t.Workers)
	}
	if t.Timeout > 0 && t.AckWait > 0 && t.Timeout >= t.AckWait {
		v.At("triage.timeout", "%s must be shorter than triage.ack_wait %s", t.Timeout, t.AckWait)
	}
	v.inRange("triage.max_deliveries", t.MaxDeliveries, 1, 10000)
	if len(t.RetryBackoff) == 0 {
		v.At("triage.retry_backoff", "must list at least one delay")
	}
	for i, d := range t.RetryBackoff {
		if d < 0 {
			v.At(fmt.Sprintf("triage.retry_backoff[%d]", i), "negative delay %s", d)
		}
	}
}

func (c *Config) validateEnrichment(v check) {
	e := c.Enrichment
	v.positive("enrichment.timeout", e.Timeout)
	v.positive("enrichment.deploys_max_age", e.DeploysMaxAge)
	v.positive("enrichment.deploy_window", e.DeployWindow)
	v.positive("enrichment.suspect_window", e.SuspectWindow)
	if e.Grace < 0 {
		v.At("enrichment.grace", "must not be negative, got %s", e.Grace)
	} else if e.Timeout > 0 && c.Triage.Timeout > 0 && e.Timeout < c.Triage.Timeout && e.Timeout+e.Grace >= c.Triage.Timeout {
		v.At("enrichment.grace", "enrichment.timeout %s plus grace %s must be shorter than triage.timeout %s: the update must still be published", e.Timeout, e.Grace, c.Triage.Timeout)
	}
	if e.Timeout > 0 && c.Triage.Timeout > 0 && e.Timeout >= c.Triage.Timeout {
		v.At("enrichment.timeout", "%s must be shorter than triage.timeout %s: the report must still be published", e.Timeout, c.Triage.Timeout)
	}
	if e.SuspectWindow > e.DeployWindow {
		v.At("enrichment.suspect_window", "%s is longer than enrichment.deploy_window %s", e.SuspectWindow, e.DeployWindow)
	}
	if e.DeployWindow > e.DeploysMaxAge {
		v.At("enrichment.deploy_window", "%s is longer than enrichment.deploys_max_age %s: those deploys are no longer kept", e.DeployWindow, e.DeploysMaxAge)
	}
	v.inRange("enrichment.max_concurrency", e.MaxConcurrency, 1, 256)
	v.inRange("enrichment.deploys_max_per_service", e.DeploysMaxPerService, 1, 1_000_000)
	v.inRange("enrichment.deploys_max_services", e.DeploysMaxServices, 1, 1_000_000)
	v.inRange("enrichment.deploys_max_events", e.DeploysMaxEvents, 1, 10_000_000)
	if e.DeploysMaxEvents < e.DeploysMaxServices {
		v.At("enrichment.deploys_max_events", "%d is less than enrichment.deploys_max_services %d: every service tracked must keep at least one event", e.DeploysMaxEvents, e.DeploysMaxServices)
	}
	v.positive("enrichment.deploys_max_clock_skew", e.DeploysMaxClockSkew)
}

func (c *Config) validateRules(v check) {
	if _, err := time.LoadLocation(c.Rules.Timezone); err != nil {
		v.At("rules.timezone", "unknown time zone %q", c.Rules.Timezone)
	}
	for i, f := range c.Rules.Files {
		if strings.TrimSpace(f) == "" {
			v.At(fmt.Sprintf("rules.files[%d]", i), "empty file name")
		}
	}
	for i, f := range c.Rules.ShadowFiles {
		if strings.TrimSpace(f) == "" {
			v.At(fmt.Sprintf("rules.shadow_files[%d]", i), "empty file name")
		}
	}
	v.inRange("rules.shadow_max_disagreements", c.Rules.ShadowMaxDisagreements, 1, 100_000)
}

// maxSinkConcurrency bounds sinks[].concurrency: its consumer holds eight times as many reports.
const maxSinkConcurrency = 1024

var validSinkName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func (c *Config) validateSinks(v check) {
	seen := map[string]int{}
	for i, s := range c.Sinks {
		p := fmt.Sprintf("sinks[%d].name", i)
		if !validSinkName.MatchString(s.Name) {
			v.At(p, "%q is not a valid sink name: lower-case letters, digits, '_' and '-'", s.Name)
		} else if j, dup := seen[s.Name]; dup {
			v.At(p, "%q is already the name of sinks[%d]", s.Name, j)
		}
		seen[s.Name] = i
		v.inRange(fmt.Sprintf("sinks[%d].concurrency", i), s.Concurrency, 0, maxSinkConcurrency)
	}
}
