package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/fielderr"
)

const (
	// mmSearchPosts is how many of a channel's most recent posts are searched for a report
	// that may have been posted already (Mattermost's largest page).
	mmSearchPosts = 200
	// mmMaxChannels bounds the cache of channel names resolved to ids.
	mmMaxChannels = 1024
	// The props that mark triaged's posts, so a report can be found again after a crash.
	mmPropReport   = "triaged_report_id"
	mmPropIncident = "triaged_incident_id"
	mmPropPart     = "triaged_part" // "root" or "report"
)

// mmChannelID is the shape of a Mattermost id: 26 lower-case letters and digits.
var mmChannelID = regexp.MustCompile(`^[a-z0-9]{26}$`)

// mattermost posts through a bot account's REST API: a root message per incident, edited in
// place, with every report in its thread.
type mattermost struct {
	base           string // the server's URL, no trailing slash
	token          string
	defaultChannel string
	render         *mmRenderer
	client         hookClient
	logger         *slog.Logger

	mu       sync.Mutex
	channels map[string]string // "team/name" → channel id

	ch *mmChannels // nil without incident_channel
}

type mmPost struct {
	ID        string         `json:"id,omitempty"`
	ChannelID string         `json:"channel_id"`
	RootID    string         `json:"root_id,omitempty"`
	Message   string         `json:"message"`
	Props     map[string]any `json:"props,omitempty"`
}

func openMattermost(c SinkConfig, env SinkEnv) (Sink, func() error, error) {
	u, err := parseHookURL("url", c.URL, false)
	if err != nil {
		return nil, nil, err
	}
	token, err := readTokenFile("token_file", c.TokenFile)
	if err != nil {
		return nil, nil, err
	}
	r, err := sinkRenderer(c, env)
	if err != nil {
		return nil, nil, err
	}
	var ch *mmChannels
	if policy, errs := newChannelPolicyFor(c.IncidentChannel, mmChannelRules); len(errs) > 0 {
		return nil, nil, fielderr.Join(errs)
	} else if policy != nil {
		team, _, _ := strings.Cut(strings.TrimPrefix(c.Channel, "#"), "/")
		ch = &mmChannels{team: team, channelKeeper: &channelKeeper{policy: policy, metrics: env.channelMetrics(),
			external: strings.TrimRight(env.ExternalURL, "/"), sink: cmpOr(c.Name, "mattermost"), service: "mattermost",
			log: loggerOr(env.Logger).With("component", "notify", "sink", c.Name)}}
	}
	return &mattermost{
		ch:   ch,
		base: strings.TrimSuffix(u.String(), "/"), token: token, defaultChannel: c.Channel,
		render: &mmRenderer{report: r, externalURL: env.ExternalURL}, client: newHookClient(u),
		logger:   loggerOr(env.Logger).With("component", "notify", "sink", c.Name, "target", u.Scheme+"://"+u.Host),
		channels: make(map[string]string),
	}, func() error { return nil }, nil
}

func (m *mattermost) Name() string { return "mattermost" }

// Deliver opens the incident's thread (Thread nil: the root message, then the full report as its
// first reply) or adds to it (the root message edited to the report's severity and state, then
// the report as a reply). Once the root is posted its Thread is returned, with the reply's error
// if that failed, so a retry replies to it instead of posting another root.
func (m *mattermost) Deliver(ctx context.Context, d Delivery) (*Thread, error) {
	rep := d.Report
	if rep == nil {
		return d.Thread, Permanent(errors.New("post report to mattermost: nil report"))
	}
	// The team channel gets every report whatever becomes of the incident channel: a failure
	// of the channel's step a retry may mend is returned only once the team channel has it.
	th, shown, chErr := m.ch.keeper().incident(ctx, m, d, d.Thread)
	rep = withShown(rep, shown)
	d.Report, d.Thread = rep, th
	full, err := m.render.full(rep, "")
	if err != nil {
		return th, Permanent(err)
	}
	out := th
	if th == nil || th.Posted != rep.ID {
		if out, err = m.postTeam(ctx, d, full); err != nil {
			return out, err
		}
	}
	if chErr != nil {
		return out, fmt.Errorf("report %s: in the team channel; %w", rep.ID, chErr)
	}
	out, err = m.postIncident(ctx, out, rep, full, d.MaybePosted)
	if err != nil {
		return out, err
	}
	return out.settled(), nil
}

// postTeam posts rep in the team channel's thread of its incident; the thread it returns says
// the report is posted there.
func (m *mattermost) postTeam(ctx context.Context, d Delivery, full string) (*Thread, error) {
	rep, th := d.Report, d.Thread
	root := m.render.root(rep)
	var out *Thread
	var err error
	if th != nil && th.RootID != "" {
		out, err = th, m.update(ctx, d, root, full)
		if hookStatus(err) == http.StatusNotFound {
			// The root post was deleted: the incident gets a new thread in the same channel,
			// which the outbox records in place of the old one.
			m.logger.Info("root post gone, opening a new thread", "report", rep.ID, "incident", rep.IncidentID, "post", th.RootID)
			out, err = m.open(ctx, th.Channel, d, root, full)
		}
	} else {
		ch, cerr := m.channelID(ctx, d.Channel)
		if cerr != nil {
			return th, cerr
		}
		out, err = m.open(ctx, ch, d, root, full)
	}
	if out == nil {
		out = th
	} else if th != nil && out != th {
		out.Incident = th.Incident
	}
	if err != nil {
		return out, err
	}
	cp := *out
	cp.Posted = rep.ID
	return &cp, nil
}

// open posts the root message in channel ch and the full report as its first reply.
func (m *mattermost) open(ctx context.Context, ch string, d Delivery, root, full string) (*Thread, error) {
	rep := d.Report
	var err error
	rootID, replied := "", false
	if d.MaybePosted {
		if rootID, replied, err = m.find(ctx, ch, rep.ID); err != nil {
			return nil, err
		}
	}
	if rootID == "" {
		if rootID, err = m.post(ctx, rep, mmPost{ChannelID: ch, Message: root, Props: mmProps(rep, "root")}); err != nil {
			return nil, err
		}
	}
	th := &Thread{Channel: ch, RootID: rootID, RootURL: m.base + "/_redirect/pl/" + rootID}
	if !replied {
		_, err = m.post(ctx, rep, mmPost{ChannelID: ch, RootID: rootID, Message: full, Props: mmProps(rep, "report")})
	}
	return th, err
}

// update edits the root first: that is idempotent, so if the reply then fails the retry edits
// it again and replies once.
func (m *mattermost) update(ctx context.Context, d Delivery, root, full string) error {
	rep, th := d.Report, d.Thread
	patch, _ := json.Marshal(map[string]string{"message": root})
	if _, err := m.call(ctx, "edit root post of report "+rep.ID, http.MethodPut,
		"/api/v4/posts/"+url.PathEscape(th.RootID)+"/patch", patch); err != nil {
		return err
	}
	if d.MaybePosted {
		_, replied, err := m.find(ctx, th.Channel, rep.ID)
		if err != nil || replied {
			return err
		}
	}
	_, err := m.post(ctx, rep, mmPost{ChannelID: th.Channel, RootID: th.RootID, Message: full, Props: mmProps(rep, "report")})
	return err
}

func mmProps(rep *triaged.Report, part string) map[string]any {
	return map[string]any{mmPropReport: rep.ID, mmPropIncident: rep.IncidentID, mmPropPart: part}
}

// post creates a post and returns its id.
func (m *mattermost) post(ctx context.Context, rep *triaged.Report, p mmPost) (string, error) {
	what := "post report " + rep.ID
	if p.RootID == "" {
		what = "post root message of report " + rep.ID
	}
	body, err := json.Marshal(p)
	if err != nil {
		return "", Permanent(fmt.Errorf("%s: %w", what, err))
	}
	data, err := m.call(ctx, what, http.MethodPost, "/api/v4/posts", body)
	if err != nil {
		return "", err
	}
	var created mmPost
	if err := json.Unmarshal(data, &created); err != nil || created.ID == "" {
		return "", fmt.Errorf("%s to %s: no post id in the response", what, m.client.where)
	}
	m.logger.Debug("posted", "report", rep.ID, "incident", rep.IncidentID, "post", created.ID, "root", p.RootID)
	return created.ID, nil
}

// find looks among the channel's most recent posts for the ones a previous attempt at report id
// made: the root message it opened (if it was an opening) and whether its reply is there.
func (m *mattermost) find(ctx context.Context, channel, id string) (rootID string, replied bool, err error) {
	data, err := m.call(ctx, "look for report "+id, http.MethodGet,
		fmt.Sprintf("/api/v4/channels/%s/posts?page=0&per_page=%d", url.PathEscape(channel), mmSearchPosts), nil)
	if err != nil {
		return "", false, err
	}
	var page struct {
		Posts map[string]mmPost `json:"posts"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return "", false, fmt.Errorf("look for report %s in %s: %w", id, m.client.where, err)
	}
	for _, p := range page.Posts {
		if p.Props[mmPropReport] != id {
			continue
		}
		switch p.Props[mmPropPart] {
		case "root":
			rootID = p.ID
		case "report":
			replied = true
		}
	}
	return rootID, replied, nil
}

// channelID turns the routed channel (or the sink's default) into a channel id: an id is taken
// as it is; "team/channel-name" is looked up once and remembered; a bare "channel-name" (or
// "#channel-name", as a catalog gives it) is looked up in the team of the sink's default channel.
func (m *mattermost) channelID(ctx context.Context, routed string) (string, error) {
	ch := strings.TrimPrefix(cmpOrString(routed, m.defaultChannel), "#")
	if ch == "" {
		return "", Permanent(errors.New("post to mattermost: no channel (routing named none and the sink has no channel)"))
	}
	team, name, ok := strings.Cut(ch, "/")
	if !ok {
		if mmChannelID.MatchString(ch) {
			return ch, nil
		}
		defTeam, _, hasTeam := strings.Cut(strings.TrimPrefix(m.defaultChannel, "#"), "/")
		if !hasTeam {
			return "", Permanent(fmt.Errorf("post to mattermost: channel %q is neither a channel id nor team/channel-name, and the sink's channel names no team", ch))
		}
		team, name = defTeam, ch
	}
	key := team + "/" + name
	m.mu.Lock()
	id, ok := m.channels[key]
	m.mu.Unlock()
	if ok {
		return id, nil
	}
	data, err := m.call(ctx, "look up channel "+key, http.MethodGet,
		"/api/v4/teams/name/"+url.PathEscape(team)+"/channels/name/"+url.PathEscape(name), nil)
	if err != nil {
		return "", err
	}
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &c); err != nil || c.ID == "" {
		return "", fmt.Errorf("look up channel %s in %s: no channel id in the response", key, m.client.where)
	}
	m.mu.Lock()
	if len(m.channels) >= mmMaxChannels {
		clear(m.channels)
	}
	m.channels[key] = c.ID
	m.mu.Unlock()
	return c.ID, nil
}

func (m *mattermost) call(ctx context.Context, what, method, path string, body []byte) ([]byte, error) {
	hdr := http.Header{"Authorization": {"Bearer " + m.token}}
	return m.client.do(ctx, what, method, m.base+path, hdr, body)
}

// mmHook posts through an incoming webhook: one message per report, no threads.
type mmHook struct {
	url     string
	channel string
	render  *mmRenderer
	client  hookClient
}

func openMattermostWebhook(c SinkConfig, env SinkEnv) (Sink, func() error, error) {
	raw, err := readSecretFile("url_file", c.URLFile)
	if err != nil {
		return nil, nil, err
	}
	u, err := parseHookURL("url_file "+c.URLFile, raw, true)
	if err != nil {
		return nil, nil, err
	}
	r, err := sinkRenderer(c, env)
	if err != nil {
		return nil, nil, err
	}
	return &mmHook{url: raw, channel: c.Channel, render: &mmRenderer{report: r, externalURL: env.ExternalURL},
		client: newHookClient(u)}, func() error { return nil }, nil
}

func (h *mmHook) Name() string { return "mattermost_webhook" }

// Deliver posts the report, its headline first, to the routed channel or the webhook's own. An
// incoming webhook cannot be searched, so a report that MaybePosted may show twice.
func (h *mmHook) Deliver(ctx context.Context, d Delivery) (*Thread, error) {
	rep := d.Report
	if rep == nil {
		return nil, Permanent(errors.New("post report to mattermost webhook: nil report"))
	}
	msg, err := h.render.full(rep, mmSeverityIcon(rep)+" ")
	if err != nil {
		return nil, Permanent(err)
	}
	payload := map[string]any{"text": msg, "props": mmProps(rep, "report")}
	if ch := strings.TrimPrefix(cmpOrString(d.Channel, h.channel), "#"); ch != "" {
		payload["channel"] = ch
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, Permanent(err)
	}
	_, err = h.client.do(ctx, "post report "+rep.ID, http.MethodPost, h.url, nil, body)
	return nil, err
}

// sinkRenderer is the report renderer of a sink: its own template, or the daemon's.
func sinkRenderer(c SinkConfig, env SinkEnv) (*Renderer, error) {
	if c.Template == "" && env.Renderer != nil {
		return env.Renderer, nil
	}
	r, err := NewRenderer(c.Template)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return r, nil
}
