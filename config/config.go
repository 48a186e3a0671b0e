// Package config loads triaged.yml: defaults, then strict YAML (an unknown key is an error with
// its file:line:column), then validation of its own values that names the key at fault. A config
// is either loaded whole or refused whole. The parts the config names (rule files, runbooks, the
// catalog, redaction patterns, the report template, sinks) are built by package load, which
// places their problems at their keys through Problems.
package config

import (
	"bytes"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/catalog"
	"github.com/triaged/triaged/deploy"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/promquery"
	"github.com/triaged/triaged/route"
)

// Duration is a Prometheus-style duration ("30s", "5m", "7d").
type Duration = confval.Duration

// Config is the daemon's configuration file.
type Config struct {
	NATS   NATS   `yaml:"nats"`
	Ingest Ingest `yaml:"ingest"`
	Triage Triage `yaml:"triage"`
	// Incidents says how alerts become incidents and how often an incident is reported on.
	Incidents Incidents `yaml:"incidents"`
	Rules     Rules     `yaml:"rules"`
	Report    Report    `yaml:"report"`
	Sinks     []Sink    `yaml:"sinks"`
	// Routes say which sinks get which reports, and in which channel; none: every sink gets
	// every report.
	Routes []route.Route `yaml:"routes"`

	Enrichment Enrichment `yaml:"enrichment"`
	// Prometheus is the query API the metrics evidence of every incident comes from (a service
	// of the catalog may name its own).
	Prometheus promquery.Settings `yaml:"prometheus"`
	Heartbeat  Heartbeat          `yaml:"heartbeat"`
	// UI bounds the web UI's incidents pages.
	UI UI `yaml:"ui"`
	// Defaults say an alert's service and environment when the service catalog does not.
	Defaults Defaults          `yaml:"defaults"`
	Services []catalog.Service `yaml:"services"`

	// File is the path the config was loaded from; "" for the built-in defaults.
	File string `yaml:"-"`
}

// Enrichment tunes what triage gathers for a new incident, all of it under one deadline.
type Enrichment struct {
	// Timeout is the one deadline for every enricher of an incident; what is not done by then is
	// reported as timed out, and the report goes out.
	Timeout Duration `yaml:"timeout"`
	// Grace lets enrichers still running at the timeout go on this much longer; what they find
	// then comes as an updated report. 0 cuts them off at the timeout.
	Grace          Duration `yaml:"grace"`
	MaxConcurrency int      `yaml:"max_concurrency"`
	DeploysMaxAge  Duration `yaml:"deploys_max_age"`
	// The deploy index's bounds (deploy.IndexOptions): events kept per service and environment,
	// pairs tracked, events in all; and how far in the future a deploy's time may lie.
	DeploysMaxPerService int      `yaml:"deploys_max_per_service"`
	DeploysMaxServices   int      `yaml:"deploys_max_services"`
	DeploysMaxEvents     int      `yaml:"deploys_max_events"`
	DeploysMaxClockSkew  Duration `yaml:"deploys_max_clock_skew"`
	DeployWindow         Duration `yaml:"deploy_window"`
	SuspectWindow        Duration `yaml:"suspect_window"`
	// RunbookDirs add runbooks to the built-in library, or override them by id.
	RunbookDirs []string `yaml:"runbook_dirs"`
	// Redact adds regular expressions of secrets to hide from log excerpts and probe bodies.
	Redact []string `yaml:"redact"`
}

// NATS sizes the JetStream objects; the server URL is the --nats.url flag.
type NATS struct {
	Prefix          string   `yaml:"prefix"`
	Replicas        int      `yaml:"replicas"`
	DuplicateWindow Duration `yaml:"duplicate_window"`
	AlertsMaxAge    Duration `yaml:"alerts_max_age"`
	ReportsMaxAge   Duration `yaml:"reports_max_age"`
	IncidentsMaxAge Duration `yaml:"incidents_max_age"`
	// DeadLettersMaxAge is how long a message a consumer gave up on is kept for replay.
	DeadLettersMaxAge Duration `yaml:"deadletters_max_age"`
	// The size limits of the streams and the bucket (see broker.Ensure for what happens when full).
	AlertsMaxBytes      int64  `yaml:"alerts_max_bytes"`
	ReportsMaxBytes     int64  `yaml:"reports_max_bytes"`
	DeadLettersMaxBytes int64  `yaml:"deadletters_max_bytes"`
	DeploysMaxBytes     int64  `yaml:"deploys_max_bytes"`
	IncidentsMaxBytes   int64  `yaml:"incidents_max_bytes"`
	DeliveriesMaxBytes  int64  `yaml:"deliveries_max_bytes"`
	EmbeddedListen      string `yaml:"embedded_listen_address"`
	// EmbeddedTokenFile holds the token a client of the embedded server's listener must present;
	// required when that listener is not on loopback.
	EmbeddedTokenFile string `yaml:"embedded_token_file"`
	// EmbeddedSyncInterval is how often the embedded server flushes JetStream's files to disk;
	// EmbeddedSyncAlways flushes every write instead (see README: the trade-off).
	EmbeddedSyncInterval Duration `yaml:"embedded_sync_interval"`
	EmbeddedSyncAlways   bool     `yaml:"embedded_sync_always"`
	// The credentials and TLS of the connection to an external NATS (--nats.url).
	CredsFile    string  `yaml:"creds_file"`
	NKeySeedFile string  `yaml:"nkey_seed_file"`
	TLS          NATSTLS `yaml:"tls_config"`
	// The graphs bucket of the metrics evidence's PNGs (see broker.TopologyOptions).
	GraphsMaxBytes int64    `yaml:"graphs_max_bytes"`
	GraphsMaxAge   Duration `yaml:"graphs_max_age"`
	// The history stream of the alerts triage handled, for backtests (history.go); max age 0
	// keeps none.
	HistoryMaxAge   Duration `yaml:"history_max_age"`
	HistoryMaxBytes int64    `yaml:"history_max_bytes"`
}

// Ingest bounds the webhook intake.
type Ingest struct {
	MaxBodyBytes   int64    `yaml:"max_body_bytes"`
	PublishTimeout Duration `yaml:"publish_timeout"`
	// What one webhook may carry (triaged.Limits); over a limit, it gets 413.
	MaxAlerts               int `yaml:"max_alerts"`
	MaxAlertBytes           int `yaml:"max_alert_bytes"`
	MaxLabels               int `yaml:"max_labels"`
	MaxAnnotations          int `yaml:"max_annotations"`
	MaxNameBytes            int `yaml:"max_name_bytes"`
	MaxLabelValueBytes      int `yaml:"max_label_value_bytes"`
	MaxAnnotationValueBytes int `yaml:"max_annotation_value_bytes"`
	// MaxInflightBytes bounds the webhook bodies handled at once.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
}

// Incidents shapes incidents: one per Alertmanager group, reported when it opens, changes,
// resolves or fires again.
type Incidents struct {
	// GroupBy keys incidents by these labels' values (with the receiver) instead of by
	// Alertmanager's group key.
	GroupBy []string `yaml:"group_by"`
	// ReopenWindow: an incident that fires again this soon after resolving is reopened, not new.
	ReopenWindow Duration `yaml:"reopen_window"`
	// ResolveHold: a resolution is reported this long after the last alert resolved, unless the
	// group fires again first (then nothing is reported). 0 reports it at once.
	ResolveHold Duration `yaml:"resolve_hold"`
	// UpdateInterval: at most one updated report per incident per interval; changes in between
	// are coalesced into the next one. 0 reports every change at once.
	UpdateInterval Duration `yaml:"update_interval"`
	// An incident that fires again more than FlapThreshold times within FlapWindow is flapping:
	// its edges are not reported until it has been stable for FlapStable.
	FlapThreshold int      `yaml:"flap_threshold"`
	FlapWindow    Duration `yaml:"flap_window"`
	FlapStable    Duration `yaml:"flap_stable"`
}

// Triage sizes the worker pool.
type Triage struct {
	Workers       int        `yaml:"workers"`
	AckWait       Duration   `yaml:"ack_wait"`
	MaxAckPending int        `yaml:"max_ack_pending"`
	Timeout       Duration   `yaml:"timeout"`
	RetryBackoff  []Duration `yaml:"retry_backoff"`
	// MaxDeliveries bounds the deliveries of an alert or report message that keeps failing;
	// then it is dead-lettered.
	MaxDeliveries int `yaml:"max_deliveries"`
}

// Rules names the severity rule files; none means the rules built into the binary.
type Rules struct {
	Files    []string `yaml:"files"`
	Timezone string   `yaml:"timezone"`
	// ShadowFiles are a candidate rule set evaluated beside the rules in force, never deciding
	// anything; where they disagree is counted and the latest ShadowMaxDisagreements are kept.
	ShadowFiles            []string `yaml:"shadow_files"`
	ShadowMaxDisagreements int      `yaml:"shadow_max_disagreements"`
}

// Report overrides the Markdown report template and bounds what one report may weigh.
type Report struct {
	Template string `yaml:"template"`
	// MaxBytes is the budget of one encoded report: every part of a report is bounded under it,
	// and a report still over it is trimmed, saying what it left out.
	MaxBytes int `yaml:"max_bytes"`
	// Escalation is who is escalated to at each severity, in order, shown in every report of an
	// incident of that severity. The default is the workflow's escalation path.
	Escalation map[string][]string `yaml:"escalation"`
}

// Sink is one destination of reports; notify owns the kinds of sink and their settings.
type Sink = notify.SinkConfig

// Default returns the configuration used when no file is given: it runs on the embedded NATS
// server with the built-in rules and prints reports on stdout.
func Default() *Config {
	return &Config{
		NATS: NATS{
			Prefix:            "triaged",
			Replicas:          1,
			DuplicateWindow:   Duration(10 * time.Minute),
			AlertsMaxAge:      Duration(24 * time.Hour),
			ReportsMaxAge:     Duration(30 * 24 * time.Hour),
			IncidentsMaxAge:   Duration(30 * 24 * time.Hour),
			DeadLettersMaxAge: Duration(14 * 24 * time.Hour),

			AlertsMaxBytes:      broker.DefaultAlertsMaxBytes,
			ReportsMaxBytes:     broker.DefaultReportsMaxBytes,
			DeadLettersMaxBytes: broker.DefaultDeadLettersMaxBytes,
			DeploysMaxBytes:     deploy.DefaultMaxBytes,
			IncidentsMaxBytes:   broker.DefaultIncidentsMaxBytes,
			DeliveriesMaxBytes:  broker.DefaultDeliveriesMaxBytes,
			GraphsMaxBytes:      broker.DefaultGraphsMaxBytes,
			GraphsMaxAge:        Duration(30 * 24 * time.Hour),
			HistoryMaxAge:       Duration(broker.DefaultHistoryMaxAge),
			HistoryMaxBytes:     broker.DefaultHistoryMaxBytes,
			// nats-server's own default: see README for what it risks.
			EmbeddedSyncInterval: Duration(2 * time.Minute),
		},
		Ingest: defaultIngest(),
		Triage: Triage{
			Workers:       16,
			AckWait:       Duration(30 * time.Second),
			MaxAckPending: 1000,
			Timeout:       Duration(20 * time.Second),
			RetryBackoff:  []Duration{Duration(time.Second), Duration(5 * time.Second), Duration(30 * time.Second)},
			MaxDeliveries: 10,
		},
		Incidents: Incidents{
			ReopenWindow:   Duration(time.Hour),
			ResolveHold:    Duration(time.Minute),
			UpdateInterval: Duration(5 * time.Minute),
			FlapThreshold:  3,
			FlapWindow:     Duration(30 * time.Minute),
			FlapStable:     Duration(10 * time.Minute),
		},
		Rules: Rules{Timezone: "UTC", ShadowMaxDisagreements: 200},
		Report: Report{MaxBytes: triaged.DefaultReportMaxBytes, Escalation: map[string][]string{
			"P1": {"Incident Commander", "Engineering Manager", "CTO", "CEO (if customer-facing)"},
			"P2": {"Incident Commander", "Engineering Manager", "CTO (if not resolved in 2 hours)"},
			"P3": {"Incident Commander", "Engineering Manager"},
			"P4": {"Incident Commander"},
		}},
		Sinks:      []Sink{{Name: "stdout", Type: "stdout"}},
		Heartbeat:  defaultHeartbeat(),
		UI:         defaultUI(),
		Prometheus: promquery.DefaultSettings(),
		Defaults:   defaultDefaults(),
		Enrichment: Enrichment{
			Timeout:              Duration(10 * time.Second),
			Grace:                Duration(5 * time.Second),
			MaxConcurrency:       8,
			DeploysMaxAge:        Duration(7 * 24 * time.Hour),
			DeploysMaxPerService: deploy.DefaultMaxPerService,
			DeploysMaxServices:   deploy.DefaultMaxServices,
			DeploysMaxEvents:     deploy.DefaultMaxEvents,
			DeploysMaxClockSkew:  Duration(deploy.DefaultMaxClockSkew),
			DeployWindow:         Duration(2 * time.Hour),
			SuspectWindow:        Duration(30 * time.Minute),
		},
	}
}

// Location is the time zone rules see time of day in.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Rules.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// RetryBackoff returns the retry delays as durations.
func (c *Config) RetryBackoff() []time.Duration {
	out := make([]time.Duration, len(c.Triage.RetryBackoff))
	for i, d := range c.Triage.RetryBackoff {
		out[i] = time.Duration(d)
	}
	return out
}

// Marshal renders the config as YAML, for `--print-config`-style debugging and tests.
func (c *Config) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
