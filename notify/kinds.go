package notify

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/triaged/triaged/internal/fielderr"
)

// SinkConfig is one entry of the config file's sinks: a name, a type, and the settings of that
// type. The config package decodes it; the kind named by Type judges it.
type SinkConfig struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	Path string `yaml:"path"` // file sinks
	// Concurrency is how many incidents the sink is delivered at once (0: the default, 32);
	// each incident's reports go one at a time, in order.
	Concurrency int `yaml:"concurrency,omitempty"`

	// Chat and webhook sinks. Secrets (tokens, incoming-webhook URLs, signing keys) are read
	// from files, never written in the config.
	URL        string `yaml:"url"`         // the service's API base URL, or a generic webhook's URL
	URLFile    string `yaml:"url_file"`    // an incoming-webhook URL, which is a secret
	TokenFile  string `yaml:"token_file"`  // a bot token
	Channel    string `yaml:"channel"`     // the default channel when routing names none
	SecretFile string `yaml:"secret_file"` // the HMAC key of a generic webhook
	Template   string `yaml:"template"`    // a template file replacing the sink's default
	// IncidentChannel opens a channel of its own for each serious incident (slack and
	// mattermost bot sinks); nil: none.
	IncidentChannel *IncidentChannelConfig `yaml:"incident_channel,omitempty"`
}

// SinkEnv is what opening a sink may use besides its settings.
type SinkEnv struct {
	Stdout   io.Writer // where stdout sinks print
	Renderer *Renderer // the report template, for sinks that print Markdown; required by stdout
	// ExternalURL is where people reach triaged (--web.external-url, no trailing slash), for
	// links to the full report (ExternalURL + "/api/v1/incidents/{id}/report.md"); "" when unknown.
	ExternalURL string
	Logger      *slog.Logger // never nil when opened by the daemon
	// ChannelMetrics count incident channels; nil: counted but not exported.
	ChannelMetrics *ChannelMetrics
}

func (e SinkEnv) channelMetrics() *ChannelMetrics {
	if e.ChannelMetrics == nil {
		return NewChannelMetrics(nil)
	}
	return e.ChannelMetrics
}

// kind is one kind of sink: the settings it takes, checked without touching anything outside the
// process, and how it is opened.
type kind struct {
	name     string
	channels bool // posts into the channel routing picks (Delivery.Channel): a chat sink
	check    func(SinkConfig) []*fielderr.Error
	open     func(SinkConfig, SinkEnv) (Sink, func() error, error)
}

// kinds is the one list of the sinks this build delivers to, in the order the docs give them.
// A new kind of sink is one more entry here: the config check, the daemon and the error that
// lists the known types all read this list.
var kinds = []kind{
	{
		name: "stdout",
		check: func(c SinkConfig) []*fielderr.Error {
			if c.Path != "" {
				return []*fielderr.Error{fielderr.Errorf("path", "a stdout sink takes no path")}
			}
			return nil
		},
		open: func(_ SinkConfig, env SinkEnv) (Sink, func() error, error) {
			if env.Renderer == nil || env.Stdout == nil {
				return nil, nil, errors.New("open: no writer or renderer to print reports with")
			}
			return NewStdout(env.Stdout, env.Renderer), func() error { return nil }, nil
		},
	},
	{
		name: "file",
		check: func(c SinkConfig) []*fielderr.Error {
			if c.Path == "" {
				return []*fielderr.Error{fielderr.Errorf("path", "a file sink needs a path")}
			}
			return nil
		},
		open: func(c SinkConfig, _ SinkEnv) (Sink, func() error, error) {
			f, err := NewFile(c.Path)
			if err != nil {
				return nil, nil, err
			}
			return f, f.Close, nil
		},
	},
	{name: "slack", check: checkSlack, open: openSlack, channels: true},       // slack.go
	{name: "slack_webhook", check: checkSlackWebhook, open: openSlackWebhook}, // slack_webhook.go
	{name: "mattermost", check: checkMattermost, open: openMattermost, channels: true},
	{name: "mattermost_webhook", check: checkMattermostWebhook, open: openMattermostWebhook, channels: true},
	{name: "teams", check: checkTeams, open: openTeams},
	{name: "webhook", check: checkWebhook, open: openWebhook},
}

// SinkTypes lists the kinds of sink this build knows, in the order the docs give them.
func SinkTypes() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// SinkPlan is a sink whose settings passed its kind's check, not opened yet. Checking a config
// stops here: opening a file sink creates its file and directory, which `triagetool check
// config` must not do, and the file's directory may exist only where the daemon runs.
type SinkPlan struct {
	cfg  SinkConfig
	kind *kind
}

// PlanSink checks c against the kind its Type names, without side effects. The error holds
// *fielderr.Error values whose Field is relative to the sink ("type", "path"), every problem
// at once, so a config loader can place each at its line and column.
func PlanSink(c SinkConfig) (*SinkPlan, error) {
	i := slices.IndexFunc(kinds, func(k kind) bool { return k.name == c.Type })
	if i < 0 {
		return nil, fielderr.Errorf("type", "unknown sink type %q (known: %s)", c.Type, strings.Join(SinkTypes(), ", "))
	}
	k := &kinds[i]
	errs := k.check(c)
	if c.IncidentChannel != nil && c.Type != "slack" && c.Type != "mattermost" {
		errs = append(errs, fielderr.Errorf("incident_channel", "a %s sink takes no incident_channel: only the slack and mattermost bot sinks open channels", c.Type))
	}
	if len(errs) > 0 {
		return nil, fielderr.Join(errs)
	}
	return &SinkPlan{cfg: c, kind: k}, nil
}

// Name is the sink's name in the config.
func (p *SinkPlan) Name() string { return p.cfg.Name }

// Concurrency is how many incidents the sink is delivered at once (0: the outbox's default).
func (p *SinkPlan) Concurrency() int { return p.cfg.Concurrency }

// Type is the sink's kind ("stdout", "file").
func (p *SinkPlan) Type() string { return p.cfg.Type }

// Open builds the sink. Its Name is the one the config gives it, which its consumer and metrics
// carry. closeSink releases what the sink holds (a file sink's file) and is never nil.
func (p *SinkPlan) Open(env SinkEnv) (s Sink, closeSink func() error, err error) {
	s, closeSink, err = p.kind.open(p.cfg, env)
	if err != nil {
		return nil, nil, fmt.Errorf("%s sink %q: %w", p.cfg.Type, p.cfg.Name, err)
	}
	return named{s, p.cfg.Name}, closeSink, nil
}

// named gives a sink the name it has in the config.
type named struct {
	Sink
	name string
}

func (n named) Name() string { return n.name }
