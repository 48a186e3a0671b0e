// Package config loads triaged.yml: defaults, then strict YAML (an unknown key is an error with
// its file:line:column), then validation of its own values that names the key at fault. A config
// is either loaded whole or refused whole. The parts the config names (rule files, runbooks, the
// catalog, redaction patterns, the report template, sinks) are built by package load, which
// places their problems at their keys through Problems.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/catalog"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/notify"
)

// Duration is a Prometheus-style duration ("30s", "5m", "7d").
type Duration = confval.Duration

// Config is the daemon's configuration file.
type Config struct {
	NATS   NATS   `yaml:"nats"`
	Ingest Ingest `yaml:"ingest"`
	Triage Triage `yaml:"triage"`
	Rules  Rules  `yaml:"rules"`
	Report Report `yaml:"report"`
	Sinks  []Sink `yaml:"sinks"`

	Enrichment Enrichment        `yaml:"enrichment"`
	Services   []catalog.Service `yaml:"services"`

	// File is the path the config was loaded from; "" for the built-in defaults.
	File string `yaml:"-"`
}

// Enrichment tunes what triage gathers for a new incident, all of it under one deadline.
type Enrichment struct {
	// Timeout is the one deadline for every enricher of an incident; what is not done by then is
	// reported as timed out, and the report goes out.
	Timeout        Duration `yaml:"timeout"`
	MaxConcurrency int      `yaml:"max_concurrency"`
	DeploysMaxAge  Duration `yaml:"deploys_max_age"`
	DeployWindow   Duration `yaml:"deploy_window"`
	SuspectWindow  Duration `yaml:"suspect_window"`
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
	EmbeddedListen  string   `yaml:"embedded_listen_address"`
}

// Ingest bounds the webhook intake.
type Ingest struct {
	MaxBodyBytes   int64    `yaml:"max_body_bytes"`
	PublishTimeout Duration `yaml:"publish_timeout"`
}

// Triage sizes the worker pool.
type Triage struct {
	Workers       int        `yaml:"workers"`
	AckWait       Duration   `yaml:"ack_wait"`
	MaxAckPending int        `yaml:"max_ack_pending"`
	Timeout       Duration   `yaml:"timeout"`
	RetryBackoff  []Duration `yaml:"retry_backoff"`
}

// Rules names the severity rule files; none means the rules built into the binary.
type Rules struct {
	Files    []string `yaml:"files"`
	Timezone string   `yaml:"timezone"`
}

// Report overrides the Markdown report template.
type Report struct {
	Template string `yaml:"template"`
}

// Sink is one destination of reports; notify owns the kinds of sink and their settings.
type Sink = notify.SinkConfig

// Default returns the configuration used when no file is given: it runs on the embedded NATS
// server with the built-in rules and prints reports on stdout.
func Default() *Config {
	return &Config{
		NATS: NATS{
			Prefix:          "triaged",
			Replicas:        1,
			DuplicateWindow: Duration(10 * time.Minute),
			AlertsMaxAge:    Duration(24 * time.Hour),
			ReportsMaxAge:   Duration(30 * 24 * time.Hour),
			IncidentsMaxAge: Duration(30 * 24 * time.Hour),
		},
		Ingest: Ingest{MaxBodyBytes: 4 << 20, PublishTimeout: Duration(10 * time.Second)},
		Triage: Triage{
			Workers:       16,
			AckWait:       Duration(30 * time.Second),
			MaxAckPending: 1000,
			Timeout:       Duration(20 * time.Second),
			RetryBackoff:  []Duration{Duration(time.Second), Duration(5 * time.Second), Duration(30 * time.Second)},
		},
		Rules: Rules{Timezone: "UTC"},
		Sinks: []Sink{{Name: "stdout", Type: "stdout"}},
		Enrichment: Enrichment{
			Timeout:        Duration(10 * time.Second),
			MaxConcurrency: 8,
			DeploysMaxAge:  Duration(7 * 24 * time.Hour),
			DeployWindow:   Duration(2 * time.Hour),
			SuspectWindow:  Duration(30 * time.Minute),
		},
	}
}

// LoadFile reads, decodes and validates the config at path. It does not build what the config
// names; package load does, for the daemon and `triagetool check config` alike.
func LoadFile(path string) (*Config, error) {
	c, probs := ParseFile(path)
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load decodes and validates a config; filename is used in positions and to resolve relative
// paths. Every problem found is reported, each as "FILE:LINE:COL: key: message".
func Load(data []byte, filename string) (*Config, error) {
	c, probs := Parse(data, filename)
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseFile is Parse of the file at path; its problems read `loading "PATH": ...`.
func ParseFile(path string) (*Config, *Problems) {
	data, err := os.ReadFile(path)
	if err != nil {
		probs := &Problems{pos: positions{file: path}, context: fmt.Sprintf("loading %q", path)}
		probs.Add(err)
		return nil, probs
	}
	c, probs := Parse(data, path)
	probs.context = fmt.Sprintf("loading %q", path)
	return c, probs
}

// Parse decodes data and validates the config's own values, like Load, but hands back the config
// together with its problems instead of refusing it, so that a caller which goes on to build
// what the config names can add the problems of those parts and report all of them in one pass.
// The config is nil when the data does not decode; with problems, it is fit to build parts from
// (to find their problems too) but not to run.
func Parse(data []byte, filename string) (*Config, *Problems) {
	c := Default()
	c.File = filename
	probs := &Problems{pos: positions{file: filename, nodes: map[string]*yaml.Node{}}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		probs.Add(yamlError(filename, err))
		return nil, probs
	}
	if len(root.Content) == 0 { // an empty file is the defaults
		probs.errs = c.validate(probs.pos)
		return c, probs
	}
	pos := probs.pos
	// Unknown keys do not stop decoding, so one pass reports them and the invalid values too.
	probs.errs = checkKeys(root.Content[0], reflect.TypeOf(*c), "", pos)
	if err := root.Content[0].Decode(c); err != nil {
		var ve *confval.ValueError
		switch {
		case errors.As(err, &ve) && len(probs.errs) > 0:
			// checkKeys has reported every bad value already
		case errors.As(err, &ve):
			probs.errs = append(probs.errs, &located{line: ve.Node.Line, col: ve.Node.Column, text: pos.atNode(ve.Node) + ": " + ve.Msg})
		default:
			probs.Add(yamlError(filename, err))
		}
		return nil, probs
	}
	c.resolvePaths()
	probs.errs = append(probs.errs, c.validate(pos)...)
	return c, probs
}

// located is a config problem with its place in the file, so problems can be listed in the
// order a reader meets them.
type located struct {
	line, col int
	text      string
}

func (e *located) Error() string { return e.text }

// joinInFileOrder joins errs sorted by line and column; errors without a place go last.
func joinInFileOrder(errs []error) error {
	key := func(err error) (int, int) {
		var l *located
		if errors.As(err, &l) && l.line > 0 {
			return l.line, l.col
		}
		return math.MaxInt, 0
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		al, ac := key(a)
		bl, bc := key(b)
		return cmp.Or(cmp.Compare(al, bl), cmp.Compare(ac, bc))
	})
	return errors.Join(errs...)
}

// positions maps a key path ("triage.workers", "sinks[1].type") to its YAML node.
type positions struct {
	file  string
	nodes map[string]*yaml.Node
}

// at gives "FILE:LINE:COL: path" for a key path; a key that is absent (a required key left
// out) is placed at the nearest enclosing key that is present.
func (p positions) at(path string) string {
	if n := p.node(path); n != nil {
		return fmt.Sprintf("%s:%d:%d: %s", p.file, n.Line, n.Column, path)
	}
	if p.file == "" { // the built-in defaults
		return path
	}
	return fmt.Sprintf("%s: %s", p.file, path)
}

// node is the node of path, or of the nearest enclosing key that is present.
func (p positions) node(path string) *yaml.Node {
	for try := path; try != ""; try = parentPath(try) {
		if n, ok := p.nodes[try]; ok {
			return n
		}
	}
	return nil
}

// atNode finds the key path of a node, for errors raised while decoding it.
func (p positions) atNode(n *yaml.Node) string {
	for path, pn := range p.nodes {
		if pn == n {
			return p.at(path)
		}
	}
	return fmt.Sprintf("%s:%d:%d", p.file, n.Line, n.Column)
}

func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i > 0 {
		return path[:i]
	}
	return ""
}

func (p positions) errorf(path, format string, args ...any) error {
	e := &located{text: p.at(path) + ": " + fmt.Sprintf(format, args...)}
	if n := p.node(path); n != nil {
		e.line, e.col = n.Line, n.Column
	}
	return e
}

// checkKeys walks the YAML mapping against the struct's yaml tags, so an unknown or misspelt key
// is reported with its position and the keys that would have been accepted.
func checkKeys(n *yaml.Node, t reflect.Type, path string, pos positions) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		// Checked here rather than left to decoding, which stops at the first bad value.
		var d Duration
		if err := d.UnmarshalYAML(n); err != nil {
			return []error{&located{line: n.Line, col: n.Column, text: pos.at(path) + ": " + err.Error()}}
		}
		return nil
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		known := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				known[name] = f.Type
			}
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			pos.nodes[p] = v
			ft, ok := known[k.Value]
			if !ok {
				errs = append(errs, &located{line: k.Line, col: k.Column, text: fmt.Sprintf("%s:%d:%d: %s: unknown key (known keys: %s)", pos.file, k.Line, k.Column, p, strings.Join(sortedKeys(known), ", "))})
				continue
			}
			errs = append(errs, checkKeys(v, ft, p, pos)...)
		}
		return errs
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		var errs []error
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			pos.nodes[p] = item
			errs = append(errs, checkKeys(item, t.Elem(), p, pos)...)
		}
		return errs
	}
	return nil
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var yamlLine = regexp.MustCompile(`(?m)^\s*(?:yaml: )?line (\d+): `)

// yamlError puts the file name where the YAML library says only "line N".
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	msg = yamlLine.ReplaceAllString(msg, file+":$1: ")
	return errors.New(strings.TrimSpace(msg))
}

var durationType = reflect.TypeOf(Duration(0))

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func (c *Config) validate(pos positions) []error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, pos.errorf(path, format, args...)) }

	if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`).MatchString(c.NATS.Prefix) {
		bad("nats.prefix", "%q is not a valid prefix: want a letter followed by letters, digits, '_' or '-'", c.NATS.Prefix)
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		bad("nats.replicas", "%d is out of range 1..5", c.NATS.Replicas)
	}
	positive := func(path string, d Duration) {
		if d <= 0 {
			bad(path, "must be a positive duration, got %s", d)
		}
	}
	positive("nats.duplicate_window", c.NATS.DuplicateWindow)
	positive("nats.alerts_max_age", c.NATS.AlertsMaxAge)
	positive("nats.reports_max_age", c.NATS.ReportsMaxAge)
	positive("nats.incidents_max_age", c.NATS.IncidentsMaxAge)
	positive("ingest.publish_timeout", c.Ingest.PublishTimeout)
	positive("triage.ack_wait", c.Triage.AckWait)
	positive("triage.timeout", c.Triage.Timeout)
	if c.NATS.AlertsMaxAge > 0 && c.NATS.DuplicateWindow > c.NATS.AlertsMaxAge {
		bad("nats.duplicate_window", "%s is longer than nats.alerts_max_age %s", c.NATS.DuplicateWindow, c.NATS.AlertsMaxAge)
	}
	if c.Ingest.MaxBodyBytes < 1024 {
		bad("ingest.max_body_bytes", "%d is below the minimum of 1024 bytes", c.Ingest.MaxBodyBytes)
	}
	if c.Triage.Workers < 1 || c.Triage.Workers > 4096 {
		bad("triage.workers", "%d is out of range 1..4096", c.Triage.Workers)
	}
	if c.Triage.MaxAckPending < c.Triage.Workers {
		bad("triage.max_ack_pending", "%d is below triage.workers (%d): workers would sit idle", c.Triage.MaxAckPending, c.Triage.Workers)
	}
	if c.Triage.Timeout > 0 && c.Triage.AckWait > 0 && c.Triage.Timeout >= c.Triage.AckWait {
		bad("triage.timeout", "%s must be shorter than triage.ack_wait %s", c.Triage.Timeout, c.Triage.AckWait)
	}
	if len(c.Triage.RetryBackoff) == 0 {
		bad("triage.retry_backoff", "must list at least one delay")
	}
	for i, d := range c.Triage.RetryBackoff {
		if d < 0 {
			bad(fmt.Sprintf("triage.retry_backoff[%d]", i), "negative delay %s", d)
		}
	}
	e := c.Enrichment
	positive("enrichment.timeout", e.Timeout)
	positive("enrichment.deploys_max_age", e.DeploysMaxAge)
	positive("enrichment.deploy_window", e.DeployWindow)
	positive("enrichment.suspect_window", e.SuspectWindow)
	if e.Timeout > 0 && c.Triage.Timeout > 0 && e.Timeout >= c.Triage.Timeout {
		bad("enrichment.timeout", "%s must be shorter than triage.timeout %s: the report must still be published", e.Timeout, c.Triage.Timeout)
	}
	if e.SuspectWindow > e.DeployWindow {
		bad("enrichment.suspect_window", "%s is longer than enrichment.deploy_window %s", e.SuspectWindow, e.DeployWindow)
	}
	if e.DeployWindow > e.DeploysMaxAge {
		bad("enrichment.deploy_window", "%s is longer than enrichment.deploys_max_age %s: those deploys are no longer kept", e.DeployWindow, e.DeploysMaxAge)
	}
	if e.MaxConcurrency < 1 || e.MaxConcurrency > 256 {
		bad("enrichment.max_concurrency", "%d is out of range 1..256", e.MaxConcurrency)
	}

	if _, err := time.LoadLocation(c.Rules.Timezone); err != nil {
		bad("rules.timezone", "unknown time zone %q", c.Rules.Timezone)
	}
	for i, f := range c.Rules.Files {
		if strings.TrimSpace(f) == "" {
			bad(fmt.Sprintf("rules.files[%d]", i), "empty file name")
		}
	}
	seen := map[string]int{}
	for i, s := range c.Sinks {
		p := fmt.Sprintf("sinks[%d]", i)
		if !validName.MatchString(s.Name) {
			bad(p+".name", "%q is not a valid sink name: lower-case letters, digits, '_' and '-'", s.Name)
		} else if j, dup := seen[s.Name]; dup {
			bad(p+".name", "%q is already the name of sinks[%d]", s.Name, j)
		}
		seen[s.Name] = i
	}
	return errs
}

// resolvePaths makes relative paths relative to the config file, as Prometheus does.
func (c *Config) resolvePaths() {
	dir := filepath.Dir(c.File)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i := range c.Rules.Files {
		c.Rules.Files[i] = abs(c.Rules.Files[i])
	}
	c.Report.Template = abs(c.Report.Template)
	for i := range c.Sinks {
		c.Sinks[i].Path = abs(c.Sinks[i].Path)
	}
	for i := range c.Enrichment.RunbookDirs {
		c.Enrichment.RunbookDirs[i] = abs(c.Enrichment.RunbookDirs[i])
	}
	for i := range c.Services {
		for j := range c.Services[i].Logs {
			if f := c.Services[i].Logs[j].File; f != nil {
				f.Path = abs(f.Path)
			}
		}
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
