package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/fielderr"
)

// IncidentChannelConfig is a chat bot sink's incident_channel block: with it, the sink opens a
// channel of its own for every incident at or above MinSeverity (the seed's TRIAGE step, "create
// the incident channel"), invites the people the service catalog names, and posts every report
// there as well as in the team channel. Without it, no channel is created: creating channels
// needs scopes (permissions) an existing bot does not have, and is visible to the whole
// workspace, so it is something to switch on.
type IncidentChannelConfig struct {
	// MinSeverity is the least severe incident that gets a channel ("P2": P1 and P2).
	MinSeverity string `yaml:"min_severity"`
	// NameTemplate is a text/template over the report making the channel's name, which is then
	// made valid for the service (lower case; letters, digits, '-' and '_'; its length limit).
	NameTemplate string `yaml:"name_template"`
	// ArchiveAfter archives the channel that long after the incident resolved, with a closing
	// message linking the postmortem skeleton; 0 never archives it.
	ArchiveAfter confval.Duration `yaml:"archive_after"`
}

// Defaults of incident_channel.
const (
	DefaultIncidentChannelSeverity = "P2"
	// DefaultIncidentChannelName is the seed's #incident-YYYYMMDD-brief-description, the brief
	// description being the service and the alert.
	DefaultIncidentChannelName = `incident-{{.StartedAt.UTC.Format "20060102"}}-{{.Service}}-{{.AlertName}}`
)

// channelNameTries bounds the names tried when the first is taken by another incident's
// channel: "-2" up to "-9".
const channelNameTries = 9

// channelPolicy is a checked incident_channel block.
type channelPolicy struct {
	min          triaged.Severity
	name         *template.Template
	rules        channelRules
	archiveAfter time.Duration
}

// channelRules are what a service asks of a channel's name beyond the slug both services take.
type channelRules struct {
	maxLen int
	// minLen is the shortest name taken: Mattermost refuses one under 2 characters
	// (model.ChannelNameMinLength, 2 on the servers in use; 1 on the newest).
	minLen int
	// oneUnderscore makes every run of '_' one: Mattermost refuses a name that "__" splits into
	// two user ids (a direct message's name), and a single '_' never does.
	oneUnderscore bool
}

// mmChannelRules are Mattermost's (model.Channel.IsValid, IsValidChannelIdentifier).
var mmChannelRules = channelRules{maxLen: mmMaxChannelName, minLen: mmMinChannelName, oneUnderscore: true}

// newChannelPolicy checks c for a service whose channel names have at most maxLen characters.
// Its errors are *fielderr.Error under "incident_channel".
func newChannelPolicy(c *IncidentChannelConfig, maxLen int) (*channelPolicy, []*fielderr.Error) {
	return newChannelPolicyFor(c, channelRules{maxLen: maxLen, minLen: 1})
}

// newChannelPolicyFor is newChannelPolicy for a service whose names follow rules.
func newChannelPolicyFor(c *IncidentChannelConfig, rules channelRules) (*channelPolicy, []*fielderr.Error) {
	if c == nil {
		return nil, nil
	}
	var errs []*fielderr.Error
	p := &channelPolicy{rules: rules, archiveAfter: c.ArchiveAfter.Std()}
	sev, err := triaged.ParseSeverity(cmpOr(c.MinSeverity, DefaultIncidentChannelSeverity))
	if err != nil {
		errs = append(errs, fielderr.Errorf("incident_channel.min_severity", "%q is not a severity (P1, P2, P3 or P4)", c.MinSeverity))
	}
	p.min = sev
	if p.archiveAfter < 0 {
		errs = append(errs, fielderr.Errorf("incident_channel.archive_after", "must not be negative (0 never archives)"))
	}
	t, err := template.New("name_template").Option("missingkey=error").Parse(cmpOr(c.NameTemplate, DefaultIncidentChannelName))
	if err != nil {
		errs = append(errs, fielderr.Errorf("incident_channel.name_template", "%v", err))
		return p, errs
	}
	p.name = t
	for _, rep := range sampleReports() {
		if rep.StartedAt.IsZero() {
			continue // the zero report tests the report templates' guards, not a name's
		}
		if _, err := p.channelName(rep); err != nil {
			errs = append(errs, fielderr.Errorf("incident_channel.name_template", "try on a sample report: %v", err))
			break
		}
	}
	return p, errs
}

// wants says whether rep's incident should have a channel.
func (p *channelPolicy) wants(rep *triaged.Report) bool {
	return p != nil && rep.Severity.Valid() && rep.Severity <= p.min
}

// channelName is the channel's name for rep: the template's text made valid.
func (p *channelPolicy) channelName(rep *triaged.Report) (string, error) {
	var b bytes.Buffer
	if err := p.name.Execute(&b, rep); err != nil {
		return "", err
	}
	text := b.String()
	if p.rules.oneUnderscore {
		text = underscores.ReplaceAllString(text, "_")
	}
	name := channelSlug(text, p.rules.maxLen)
	if name == "" {
		return "", fmt.Errorf("the name template gave %q, which has no letter or digit", b.String())
	}
	if len(name) < p.rules.minLen {
		return "", fmt.Errorf("the name template gave %q, which makes the channel name %q: shorter than the %d characters the service takes",
			b.String(), name, p.rules.minLen)
	}
	return name, nil
}

var underscores = regexp.MustCompile(`_{2,}`)

// channelSlug makes s a channel name both Slack and Mattermost take: lower case, runs of
// anything but letters, digits and '_' made one '-', a letter or digit at either end, at most
// maxLen bytes.
func channelSlug(s string, maxLen int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "#")) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	out := b.String()
	if len(out) > maxLen {
		out = out[:maxLen]
	}
	// Mattermost wants a letter or digit at either end.
	return strings.Trim(out, "-_")
}

// channelNames are the names to try, in order: base, then base-2 … base-9, then base with the
// end of the incident's ID (unique where the day's suffixes are all taken), shortened to fit.
// The name an earlier attempt recorded (claimed) comes first: its channel may be the one that
// attempt created.
func channelNames(base string, maxLen int, incidentID, claimed string) []string {
	suffixed := func(suffix string) string {
		return strings.TrimRight(base[:min(len(base), maxLen-len(suffix))], "-_") + suffix
	}
	out := []string{base}
	for i := 2; i <= channelNameTries; i++ {
		out = append(out, suffixed("-"+strconv.Itoa(i)))
	}
	id := strings.ReplaceAll(channelSlug(incidentID, 64), "-", "")
	if len(id) > channelIDPart {
		id = id[len(id)-channelIDPart:]
	}
	if id != "" {
		out = append(out, suffixed("-"+id))
	}
	if i := slices.Index(out, claimed); i > 0 {
		out = append(append([]string{claimed}, out[:i]...), out[i+1:]...)
	}
	return out
}

// channelIDPart is how much of the incident's ID (its end: the hash part of triaged's IDs)
// names its channel when the suffixes "-2" … "-9" are all taken.
const channelIDPart = 8

// namesTakenError is the refusal of every name an incident's channel may have: recorded with
// the incident, so that its later reports do not try them all again.
type namesTakenError struct{ first, last string }

func namesTaken(base string, maxLen int, incidentID string) *namesTakenError {
	names := channelNames(base, maxLen, incidentID, "")
	return &namesTakenError{first: names[0], last: names[len(names)-1]}
}

func (e *namesTakenError) Error() string {
	return fmt.Sprintf("the names %s to %s are all taken by other channels", e.first, e.last)
}

// channelMarker is what a channel's purpose says so that any replica, after any crash, knows
// the channel is this incident's when it finds it by name.
func channelMarker(incidentID string) string { return "triaged incident " + incidentID }

// IncidentChannel is what a sink keeps of an incident's own channel, inside its Thread.
type IncidentChannel struct {
	ID   string `json:"id"`
	Name string `json:"name"` // without '#'
	URL  string `json:"url,omitempty"`
	// Topic is the headline the channel's topic was last set to.
	Topic string `json:"topic,omitempty"`
	// Ready: the topic was set, the people invited and the opening report pinned.
	Ready bool `json:"ready,omitempty"`
	// ArchiveAt is when the channel is to be archived: set by the resolution when
	// archive_after is configured, cleared by a later report (the incident reopened).
	ArchiveAt *time.Time `json:"archive_at,omitempty"`
	Archived  bool       `json:"archived,omitempty"`
	// Claim (ID "") is the name the incident recorded before asking for a channel of that
	// name: only this incident may take a channel of that name the bot created and did not
	// mark (a crash, or a refused purpose, between creating and marking it).
	Claim string `json:"claim,omitempty"`
	// Unmarked: the channel's purpose does not carry the incident's marker yet; the next
	// delivery sets it.
	Unmarked bool `json:"unmarked,omitempty"`
	// None (ID "") says why the incident has no channel for good (every name taken): its
	// later reports do not try again.
	None string `json:"none,omitempty"`
	// Posted is the report last posted in the channel and PostedTS its message: when a step
	// after the post fails for a while (a 429 on the invitations), its retry does not post the
	// report again.
	Posted   string `json:"posted,omitempty"`
	PostedTS string `json:"posted_ts,omitempty"`
}

func (c *IncidentChannel) clone() *IncidentChannel {
	if c == nil {
		return nil
	}
	out := *c
	return &out
}

// shown is the channel as a report shows it.
func (c *IncidentChannel) shown() *triaged.IncidentChannel {
	return &triaged.IncidentChannel{Name: "#" + c.Name, URL: c.URL}
}

// withChannel returns th (or a new Thread) with its incident channel set to ic.
func withChannel(th *Thread, ic *IncidentChannel) *Thread {
	out := &Thread{}
	if th != nil {
		*out = *th
	}
	out.Incident = ic
	return out
}

// withShown is a shallow copy of rep showing its incident channel (or why there is none).
func withShown(rep *triaged.Report, ic *triaged.IncidentChannel) *triaged.Report {
	if ic == nil {
		return rep
	}
	cp := *rep
	cp.IncidentChannel = ic
	return &cp
}

// invitees are the people the catalog names for rep's service, on-call first, each once.
func invitees(rep *triaged.Report) []string {
	var out []string
	for _, who := range append(append([]string{rep.OnCall}, rep.Owners...), rep.Team) {
		who = strings.TrimSpace(who)
		if who != "" && !slices.Contains(out, who) {
			out = append(out, who)
		}
	}
	return out
}

// isEmail says whether who names a person by e-mail rather than by handle.
func isEmail(who string) bool {
	at := strings.LastIndexByte(who, '@')
	return at > 0 && strings.Contains(who[at:], ".")
}

// Archiver is a sink that archives incident channels: the outbox calls Archive when a
// channel's ArchiveAt is past, from any replica, after any restart.
type Archiver interface {
	// Archive posts the closing message in the incident's channel (once, even when called
	// again) and archives it; it returns the thread with the channel marked archived.
	Archive(ctx context.Context, incidentID string, th *Thread) (*Thread, error)
	// ArchiveAfter is the delay between resolution and archiving.
	ArchiveAfter() time.Duration
}

// Unarchiver is an Archiver that can take an archiving back, for an incident that reopened
// while its channel was being archived.
type Unarchiver interface {
	Unarchive(ctx context.Context, th *Thread) error
}

// AsArchiver returns the Archiver behind s, if s archives incident channels.
func AsArchiver(s Sink) (Archiver, bool) {
	if n, ok := s.(named); ok {
		s = n.Sink
	}
	a, ok := s.(Archiver)
	if !ok {
		return nil, false
	}
	if c, ok := s.(interface{ archives() bool }); ok && !c.archives() {
		return nil, false
	}
	return a, true
}

// postmortemLink is where the incident's postmortem skeleton is, for the closing message.
func postmortemLink(externalURL, incidentID string) string {
	if externalURL == "" {
		return ""
	}
	return strings.TrimRight(externalURL, "/") + "/api/v1/incidents/" + pathEscape(incidentID) + "/postmortem.md"
}

// Results of opening an incident channel, the result label of triaged_incident_channels_total.
const (
	channelCreated      = "created"       // a new channel
	channelFound        = "found"         // an earlier attempt's channel, found by name
	channelMissingScope = "missing_scope" // the bot lacks a scope (Slack) or permission (Mattermost)
	channelFailed       = "failed"        // refused for another reason
)

// ChannelMetrics count what the chat sinks did with incident channels.
type ChannelMetrics struct {
	opened *prometheus.CounterVec
	steps  *prometheus.CounterVec
}

// NewChannelMetrics registers the incident-channel metrics on reg (nil: not registered).
func NewChannelMetrics(reg prometheus.Registerer) *ChannelMetrics {
	m := &ChannelMetrics{
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_incident_channels_total",
			Help: "Incident channels a chat sink opened, by sink and result (created, found, missing_scope, failed).",
		}, []string{"sink", "result"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_incident_channel_steps_total",
			Help: "Steps of setting up and closing incident channels (topic, invite, pin, archive), by sink, step and result (ok, missing_scope, failed, unknown_user).",
		}, []string{"sink", "step", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.opened, m.steps)
	}
	return m
}

func (m *ChannelMetrics) open(sink, result string) { m.opened.WithLabelValues(sink, result).Inc() }

// step counts a step's outcome from its error.
func (m *ChannelMetrics) step(sink, step string, err error) {
	m.steps.WithLabelValues(sink, step, stepResult(err)).Inc()
}

func stepResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case isMissingScope(err):
		return channelMissingScope
	}
	return channelFailed
}

// missingScopeError is a refusal for want of a scope or permission; Scope names it when the
// service says.
type missingScopeError struct {
	Scope string
	Err   error
}

func (e *missingScopeError) Error() string { return e.Err.Error() }
func (e *missingScopeError) Unwrap() error { return e.Err }

func isMissingScope(err error) bool {
	var m *missingScopeError
	return errors.As(err, &m)
}
