package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/fielderr"
)

// slackDefaultURL is Slack's Web API; a sink's url replaces it (a test server, a proxy).
const slackDefaultURL = "https://slack.com/api/"

// slackTimeout bounds one call to Slack, whatever the caller's context allows.
const slackTimeout = 30 * time.Second

// maxSecretFile bounds a token or webhook-URL file: it holds one line.
const maxSecretFile = 4 << 10

// slackChannelID matches a channel's ID, which conversations.history needs (a name works only
// for posting).
var slackChannelID = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// Slack is the sink of a Slack app's bot token: an incident's first report posts a short root
// message in the channel and the full report as the first reply in its thread; every later
// report is a reply in that thread, and the root message is edited to show the incident's
// current severity and state.
type Slack struct {
	name    string
	api     *slackAPI
	r       *SlackRenderer
	channel string
	log     *slog.Logger

	mu      sync.Mutex
	replied *recentIDs // reports whose reply this process posted, so a retry only updates the root

	ch *slackChannels // nil without incident_channel
}

var _ Sink = (*Slack)(nil)

func (s *Slack) Name() string { return s.name }

// Deliver posts rep in its incident's thread, opening the thread with a root message when
// d.Thread is nil. The thread is returned as soon as the root message exists, also with an
// error from a later step, so the outbox records it and a retry replies in that thread.
func (s *Slack) Deliver(ctx context.Context, d Delivery) (*Thread, error) {
	rep := d.Report
	if rep == nil {
		return d.Thread, Permanent(errors.New("slack: nil report"))
	}
	// The team channel gets every report whatever becomes of the incident channel: a failure
	// of the channel's step a retry may mend is returned only once the team channel has it.
	th, shown, chErr := s.ch.keeper().incident(ctx, s, d, d.Thread)
	rep = withShown(rep, shown)
	opened := false
	if th == nil || th.RootID == "" {
		ch := cmpOr(d.Channel, s.channel)
		if ch == "" {
			return th, Permanent(fmt.Errorf("slack: report %s: no channel: set the sink's channel or route the report to one", rep.ID))
		}
		root, err := s.openThread(ctx, ch, rep, d.MaybePosted)
		if err != nil {
			return th, fmt.Errorf("report %s: %w", rep.ID, err)
		}
		if th != nil {
			root.Incident = th.Incident
		}
		th, opened = root, true
	}
	if th.Posted != rep.ID {
		if err := s.reply(ctx, th, rep, d.MaybePosted); err != nil {
			return th, fmt.Errorf("report %s: %w", rep.ID, err)
		}
		cp := *th
		cp.Posted = rep.ID
		th = &cp
	}
	if !opened {
		root, err := s.r.Root(rep)
		if err != nil {
			return th, Permanent(err)
		}
		root.Channel, root.TS, root.Metadata = th.Channel, th.RootID, slackMeta(slackRootEvent, rep)
		if _, err := s.api.post(ctx, "chat.update", root); err != nil {
			if !IsPermanent(err) {
				return th, fmt.Errorf("report %s: update the root message: %w", rep.ID, err)
			}
			// The report is in the thread; a root that can no longer be edited (deleted,
			// edit_window_closed) must not send it to the dead letters.
			s.log.Warn("slack: the root message could not be updated; the report is in its thread",
				"sink", s.name, "report", rep.ID, "channel", th.Channel, "ts", th.RootID, "err", err)
		}
	}
	if chErr != nil {
		return th, fmt.Errorf("report %s: in the team channel; %w", rep.ID, chErr)
	}
	th, err := s.postIncident(ctx, th, rep, d.MaybePosted)
	if err != nil {
		return th, fmt.Errorf("report %s: %w", rep.ID, err)
	}
	return th.settled(), nil
}

// openThread posts the incident's root message in ch, or finds the one an earlier attempt
// posted.
func (s *Slack) openThread(ctx context.Context, ch string, rep *triaged.Report, maybePosted bool) (*Thread, error) {
	if maybePosted {
		if !slackChannelID.MatchString(ch) {
			s.log.Warn("slack: cannot look for a root message possibly posted already: the channel is given by name, not ID; posting it",
				"sink", s.name, "channel", ch, "report", rep.ID)
		} else if ts, err := s.lookup(ctx, ch, "", slackRootEvent, "incident_id", rep.IncidentID); err != nil {
			return nil, err
		} else if ts != "" {
			return &Thread{Channel: ch, RootID: ts, RootURL: s.api.permalink(ctx, ch, ts)}, nil
		}
	}
	root, err := s.r.Root(rep)
	if err != nil {
		return nil, Permanent(err)
	}
	root.Channel, root.Metadata = ch, slackMeta(slackRootEvent, rep)
	resp, err := s.api.post(ctx, "chat.postMessage", root)
	if err != nil {
		return nil, fmt.Errorf("post the root message: %w", err)
	}
	if resp.TS == "" {
		return nil, errors.New("post the root message: Slack answered without its ts")
	}
	// Slack answers with the channel's ID, which chat.update needs: a name would not do.
	th := &Thread{Channel: cmpOr(resp.Channel, ch), RootID: resp.TS}
	th.RootURL = s.api.permalink(ctx, th.Channel, th.RootID)
	return th, nil
}

// reply posts the full report in the thread unless it is there already.
func (s *Slack) reply(ctx context.Context, th *Thread, rep *triaged.Report, maybePosted bool) error {
	s.mu.Lock()
	done := s.replied.seen(rep.ID)
	s.mu.Unlock()
	if done {
		return nil
	}
	if maybePosted {
		ts, err := s.lookup(ctx, th.Channel, th.RootID, slackReportEvent, "report_id", rep.ID)
		if err != nil {
			return err
		}
		if ts != "" {
			s.remember(rep.ID)
			return nil
		}
	}
	m, err := s.r.Report(rep)
	if err != nil {
		return Permanent(err)
	}
	m.Channel, m.ThreadTS, m.Metadata = th.Channel, th.RootID, slackMeta(slackReportEvent, rep)
	if _, err := s.api.post(ctx, "chat.postMessage", m); err != nil {
		return fmt.Errorf("reply in the thread: %w", err)
	}
	s.remember(rep.ID)
	return nil
}

func (s *Slack) remember(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replied.add(id)
}

// lookup finds a message by its metadata. A lookup Slack refuses for good (the app lacks the
// channels:history scope, say) is logged and taken as "not found": posting twice is better
// than not posting.
func (s *Slack) lookup(ctx context.Context, ch, thread, event, key, value string) (string, error) {
	ts, err := s.api.find(ctx, ch, thread, event, key, value)
	if err != nil && IsPermanent(err) {
		s.log.Warn("slack: cannot look for a message possibly posted already; posting it", "sink", s.name, "err", err)
		return "", nil
	}
	return ts, err
}

// checkSlack judges a slack sink's settings without reading any file.
func checkSlack(c SinkConfig) []*fielderr.Error {
	var errs []*fielderr.Error
	if c.TokenFile == "" {
		errs = append(errs, fielderr.Errorf("token_file", "a slack sink needs token_file, a file holding the bot token (xoxb-…)"))
	}
	if c.URL != "" {
		if err := checkHTTPURL(c.URL); err != nil {
			errs = append(errs, fielderr.Errorf("url", "%v", err))
		}
	}
	_, perrs := newChannelPolicy(c.IncidentChannel, slackMaxChannelName)
	errs = append(errs, perrs...)
	return append(errs, refuse(c, "slack", "path", "url_file", "secret_file")...)
}

// checkSlackWebhook judges a slack_webhook sink's settings.
func checkSlackWebhook(c SinkConfig) []*fielderr.Error {
	var errs []*fielderr.Error
	if c.URLFile == "" {
		errs = append(errs, fielderr.Errorf("url_file", "a slack_webhook sink needs url_file, a file holding the incoming-webhook URL (a secret)"))
	}
	if c.Channel != "" {
		errs = append(errs, fielderr.Errorf("channel", "an incoming webhook posts to the channel it was created for; use a slack sink (bot token) to choose channels"))
	}
	return append(errs, refuse(c, "slack_webhook", "path", "url", "token_file", "secret_file")...)
}

// refuse names each of fields that is set although the kind takes none.
func refuse(c SinkConfig, kind string, fields ...string) []*fielderr.Error {
	set := map[string]string{"path": c.Path, "url": c.URL, "url_file": c.URLFile, "token_file": c.TokenFile,
		"channel": c.Channel, "secret_file": c.SecretFile, "template": c.Template}
	var errs []*fielderr.Error
	for _, f := range fields {
		if set[f] != "" {
			errs = append(errs, fielderr.Errorf(f, "a %s sink takes no %s", kind, f))
		}
	}
	return errs
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return nil
}

// openSlack reads the token and the template and builds the sink.
func openSlack(c SinkConfig, env SinkEnv) (Sink, func() error, error) {
	token, err := readTokenFile("token_file", c.TokenFile)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewSlackRenderer(c.Template, env.ExternalURL)
	if err != nil {
		return nil, nil, err
	}
	base := cmpOr(c.URL, slackDefaultURL)
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	var ch *slackChannels
	if policy, errs := newChannelPolicy(c.IncidentChannel, slackMaxChannelName); len(errs) > 0 {
		return nil, nil, fielderr.Join(errs)
	} else if policy != nil {
		ch = &slackChannels{channelKeeper: &channelKeeper{policy: policy, metrics: env.channelMetrics(),
			external: strings.TrimRight(env.ExternalURL, "/"), log: loggerOr(env.Logger), sink: cmpOr(c.Name, "slack"), service: "slack"}}
	}
	return &Slack{
		ch:      ch,
		name:    cmpOr(c.Name, "slack"),
		api:     &slackAPI{base: base, token: token, hc: &http.Client{Timeout: slackTimeout}},
		r:       r,
		channel: c.Channel,
		log:     loggerOr(env.Logger),
		replied: newRecentIDs(recentCapacity),
	}, func() error { return nil }, nil
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
