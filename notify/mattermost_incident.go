package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/triaged/triaged"
)

// Mattermost's limits on a channel (model.Channel): its name and display name, its header.
const (
	mmMinChannelName = 2
	mmMaxChannelName = 64
	mmMaxHeader      = 1024
)

// mmChannelExists is the id of Mattermost's refusal of a name its team has already, whether
// the channel is public, private or archived.
const mmChannelExists = "store.sql_channel.save_channel.exists.app_error"

// Mattermost's rule for a channel's name (model.IsValidChannelIdentifier as servers before
// v10 have it; the newest also take a name ending in '-' or '_'), and the names it keeps for
// group messages (model.Channel.IsValid).
var (
	mmNameChars = regexp.MustCompile(`^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]+$`)
	mmGroupName = regexp.MustCompile(`^[a-f0-9]{40}$`)
	mmUserID    = regexp.MustCompile(`^[a-z0-9]{26}$`)
)

// mmNameOK says whether Mattermost takes name for a public channel: besides its characters and
// length, it refuses a group message's name and a direct message's (two user ids joined by "__").
func mmNameOK(name string) bool {
	if len(name) < mmMinChannelName || len(name) > mmMaxChannelName || !mmNameChars.MatchString(name) || mmGroupName.MatchString(name) {
		return false
	}
	ids := strings.Split(name, "__")
	return len(ids) != 2 || !mmUserID.MatchString(ids[0]) || !mmUserID.MatchString(ids[1])
}

// mmChannels is the incident-channel state of a Mattermost bot sink.
type mmChannels struct {
	*channelKeeper
	team string // the team of the sink's channel, where incident channels are created

	mu     sync.Mutex
	teamID string
}

func (c *mmChannels) keeper() *channelKeeper {
	if c == nil {
		return nil
	}
	return c.channelKeeper
}

// mmChannel is a channel as the API gives it.
type mmChannel struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Purpose  string `json:"purpose"`
	DeleteAt int64  `json:"delete_at"`
}

// mmScope turns a 403 into a missing permission, named for the operator.
func mmScope(err error, perm string) error {
	if hookStatus(err) == http.StatusForbidden {
		return Permanent(&missingScopeError{Scope: perm, Err: err})
	}
	return err
}

func (m *mattermost) scopeHint(scope string) string {
	return fmt.Sprintf("the Mattermost bot lacks the %s permission", cmpOrString(scope, "needed"))
}

// unarchive restores the channel: Mattermost asks manage_team of the channel's team for it
// (api4 restoreChannel), whatever the channel's type.
func (m *mattermost) unarchive(ctx context.Context, ic *IncidentChannel) error {
	_, err := m.call(ctx, "restore channel "+ic.Name, http.MethodPost, "/api/v4/channels/"+url.PathEscape(ic.ID)+"/restore", nil)
	return mmScope(err, "manage_team")
}

// Unarchive restores the channel of an incident that reopened while it was being archived.
func (m *mattermost) Unarchive(ctx context.Context, th *Thread) error {
	if m.ch == nil || th == nil || th.Incident == nil || th.Incident.ID == "" {
		return nil
	}
	return m.unarchive(ctx, th.Incident)
}

func (m *mattermost) team(ctx context.Context) (string, error) {
	m.ch.mu.Lock()
	id := m.ch.teamID
	m.ch.mu.Unlock()
	if id != "" {
		return id, nil
	}
	data, err := m.call(ctx, "look up team "+m.ch.team, http.MethodGet, "/api/v4/teams/name/"+url.PathEscape(m.ch.team), nil)
	if err != nil {
		return "", err
	}
	var t struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &t) != nil || t.ID == "" {
		return "", fmt.Errorf("look up team %s in %s: no team id in the response", m.ch.team, m.client.where)
	}
	m.ch.mu.Lock()
	m.ch.teamID = t.ID
	m.ch.mu.Unlock()
	return t.ID, nil
}

// createChannel creates the incident's channel, with the marker in its purpose and the headline in its
// header in the same call, or finds by name the one an earlier attempt created.
// Mattermost sets the marker in the creating call, so no channel is ever unmarked and no name
// needs claiming.
func (m *mattermost) createChannel(ctx context.Context, rep *triaged.Report, _ string, _ func(context.Context, string) error) (*IncidentChannel, error) {
	base, err := m.ch.policy.channelName(rep)
	if err != nil {
		return nil, Permanent(fmt.Errorf("name the incident channel: %w", err))
	}
	teamID, err := m.team(ctx)
	if err != nil {
		return nil, err
	}
	marker, header := channelMarker(rep.IncidentID), truncate(mmMaxHeader, triaged.Headline(rep))
	for _, name := range channelNames(base, mmMaxChannelName, rep.IncidentID, "") {
		if !mmNameOK(name) {
			continue // a name Mattermost keeps for group or direct messages; the next one is not
		}
		body, _ := json.Marshal(map[string]string{"team_id": teamID, "name": name, "display_name": name,
			"purpose": marker, "header": header, "type": "O"})
		data, err := m.call(ctx, "create channel "+name, http.MethodPost, "/api/v4/channels", body)
		if err == nil {
			var c mmChannel
			if json.Unmarshal(data, &c) != nil || c.ID == "" {
				return nil, fmt.Errorf("create channel %s in %s: no channel id in the response", name, m.client.where)
			}
			m.ch.metrics.open(m.ch.sink, channelCreated)
			m.logger.Info("incident channel created", "incident", rep.IncidentID, "channel", name, "id", c.ID)
			return m.channel(c, header), nil
		}
		if hookErrorID(err) != mmChannelExists {
			return nil, mmScope(err, "create_public_channel")
		}
		// Taken: this incident's channel, or another's. A private channel the bot is not in
		// answers 404 (older servers 403); it is not this incident's, which the bot created
		// public and is in, so the next name is tried.
		data, ferr := m.call(ctx, "look up channel "+name, http.MethodGet,
			"/api/v4/teams/"+url.PathEscape(teamID)+"/channels/name/"+url.PathEscape(name)+"?include_deleted=true", nil)
		if s := hookStatus(ferr); s == http.StatusNotFound || s == http.StatusForbidden {
			continue
		}
		if ferr != nil {
			return nil, ferr
		}
		var c mmChannel
		if json.Unmarshal(data, &c) == nil && c.ID != "" && strings.Contains(c.Purpose, marker) {
			m.ch.metrics.open(m.ch.sink, channelFound)
			ic := m.channel(c, "")
			ic.Archived = c.DeleteAt > 0
			return ic, nil
		}
	}
	return nil, Permanent(namesTaken(base, mmMaxChannelName, rep.IncidentID))
}

// mark is never needed: the creating call sets the purpose.
func (m *mattermost) mark(context.Context, *triaged.Report, *IncidentChannel) error { return nil }

func (m *mattermost) channel(c mmChannel, header string) *IncidentChannel {
	return &IncidentChannel{ID: c.ID, Name: c.Name, Topic: header, URL: m.base + "/" + url.PathEscape(m.ch.team) + "/channels/" + url.PathEscape(c.Name)}
}

// postIncident posts rep in the incident's channel, unless it is archived; the first time it
// also invites the people and pins the report. Only a failure a retry may mend is returned.
func (m *mattermost) postIncident(ctx context.Context, th *Thread, rep *triaged.Report, full string, maybePosted bool) (*Thread, error) {
	if m.ch == nil || th == nil || th.Incident == nil || th.Incident.ID == "" || th.Incident.Archived {
		return th, nil
	}
	ic := th.Incident.clone()
	postID := ic.PostedTS
	if ic.Posted != rep.ID {
		replied := false
		if maybePosted {
			var err error
			if _, replied, err = m.find(ctx, ic.ID, rep.ID); err != nil {
				return th, err
			}
		}
		if !replied {
			var err error
			postID, err = m.post(ctx, rep, mmPost{ChannelID: ic.ID, Message: full, Props: mmProps(rep, "report")})
			if err != nil {
				if !IsPermanent(err) {
					return th, fmt.Errorf("post in the incident channel %s: %w", ic.Name, err)
				}
				m.ch.metrics.step(m.ch.sink, "post", err)
				m.logger.Error("report not posted in the incident channel; it is in the team channel", "report", rep.ID, "channel", ic.Name, "err", err)
				return th, nil
			}
		}
		ic.Posted, ic.PostedTS = rep.ID, postID
		if rep.Event == triaged.EventResolved {
			m.postmortemNote(ctx, ic, rep, maybePosted)
		}
	}
	if header := truncate(mmMaxHeader, triaged.Headline(rep)); ic.Topic != header {
		body, _ := json.Marshal(map[string]string{"header": header})
		_, err := m.call(ctx, "set the header of "+ic.Name, http.MethodPut, "/api/v4/channels/"+url.PathEscape(ic.ID)+"/patch", body)
		err = mmScope(err, "manage_public_channel_properties")
		m.ch.metrics.step(m.ch.sink, "topic", err)
		if err == nil {
			ic.Topic = header
		} else {
			m.logger.Warn("incident channel header not set", "channel", ic.Name, "err", err)
		}
	}
	if !ic.Ready {
		// A failure a retry may mend (a 429, a 5xx) is retried with the report, which is not
		// posted again (Posted); a refusal is listed in the channel and counted.
		if err := m.invite(ctx, ic, rep); err != nil {
			return withChannel(th, ic), fmt.Errorf("set up the incident channel %s: %w", ic.Name, err)
		}
		if postID != "" {
			_, err := m.call(ctx, "pin report "+rep.ID, http.MethodPost, "/api/v4/posts/"+url.PathEscape(postID)+"/pin", nil)
			err = mmScope(err, "manage_public_channel_properties")
			m.ch.metrics.step(m.ch.sink, "pin", err)
			if err != nil && !IsPermanent(err) {
				return withChannel(th, ic), fmt.Errorf("pin the report in the incident channel %s: %w", ic.Name, err)
			}
			if err != nil {
				m.logger.Warn("report not pinned in the incident channel", "channel", ic.Name, "err", err)
			}
		}
		ic.Ready = true
	}
	return withChannel(th, ic), nil
}

// invite adds the on-call, the owners and the team (users by e-mail or username) to the
// channel; whoever is not found or cannot be added for good is listed in the channel. A failure
// a retry may mend is returned instead: adding a member again is harmless.
func (m *mattermost) invite(ctx context.Context, ic *IncidentChannel, rep *triaged.Report) error {
	var missed []string
	for _, who := range invitees(rep) {
		path := "/api/v4/users/username/" + url.PathEscape(strings.TrimPrefix(who, "@"))
		if isEmail(who) {
			path = "/api/v4/users/email/" + url.PathEscape(who)
		}
		data, err := m.call(ctx, "look up user "+who, http.MethodGet, path, nil)
		var u struct {
			ID string `json:"id"`
		}
		if err == nil && (json.Unmarshal(data, &u) != nil || u.ID == "") {
			err = Permanent(errors.New("no user id in the response"))
		}
		if hookStatus(err) == http.StatusNotFound {
			m.ch.metrics.steps.WithLabelValues(m.ch.sink, "invite", "unknown_user").Inc()
			missed = append(missed, who+" (no Mattermost user by that e-mail or username)")
			continue
		}
		if err == nil {
			body, _ := json.Marshal(map[string]string{"user_id": u.ID})
			_, err = m.call(ctx, "add "+who+" to "+ic.Name, http.MethodPost, "/api/v4/channels/"+url.PathEscape(ic.ID)+"/members", body)
			err = mmScope(err, "manage_public_channel_members")
		}
		m.ch.metrics.step(m.ch.sink, "invite", err)
		if err != nil && !IsPermanent(err) {
			return fmt.Errorf("add %s: %w", who, err)
		}
		if err != nil {
			m.logger.Warn("could not add a person to the incident channel", "who", who, "channel", ic.Name, "err", err)
			missed = append(missed, who+" (could not be added)")
		}
	}
	if len(missed) == 0 {
		return nil
	}
	if noted, err := m.findPart(ctx, ic.ID, rep.IncidentID, "note"); err != nil || noted {
		return nil // listed by an earlier attempt
	}
	p := mmPost{ChannelID: ic.ID, Message: "Not added, please add by hand: " + mmText(strings.Join(missed, ", ")),
		Props: map[string]any{mmPropIncident: rep.IncidentID, mmPropPart: "note"}}
	if _, err := m.post(ctx, rep, p); err != nil {
		m.logger.Warn("could not list the people not added in the incident channel", "channel", ic.Name, "err", err)
	}
	return nil
}

func (m *mattermost) archives() bool { return m.ch != nil && m.ch.policy.archiveAfter > 0 }

// ArchiveAfter is incident_channel.archive_after.
func (m *mattermost) ArchiveAfter() time.Duration {
	if m.ch == nil {
		return 0
	}
	return m.ch.policy.archiveAfter
}

// Archive posts the closing message, linking the postmortem skeleton, once, and archives the
// channel (Mattermost's DELETE of a channel archives it).
func (m *mattermost) Archive(ctx context.Context, incidentID string, th *Thread) (*Thread, error) {
	if m.ch == nil || th == nil || th.Incident == nil || th.Incident.ID == "" || th.Incident.Archived {
		return th, nil
	}
	ic := th.Incident.clone()
	closed, err := m.findPart(ctx, ic.ID, incidentID, "closing")
	if err != nil {
		return th, err
	}
	if !closed {
		msg := "This incident is resolved and this channel is archived now. " + m.postmortemText(incidentID)
		body, _ := json.Marshal(mmPost{ChannelID: ic.ID, Message: msg, Props: map[string]any{mmPropIncident: incidentID, mmPropPart: "closing"}})
		if _, err := m.call(ctx, "post the closing message in "+ic.Name, http.MethodPost, "/api/v4/posts", body); err != nil {
			m.ch.metrics.step(m.ch.sink, "archive", err)
			return th, err
		}
	}
	_, err = m.call(ctx, "archive channel "+ic.Name, http.MethodDelete, "/api/v4/channels/"+url.PathEscape(ic.ID), nil)
	if hookStatus(err) == http.StatusBadRequest {
		// Archived already (by a person, or by this call before a crash)?
		if data, gerr := m.call(ctx, "look up channel "+ic.Name, http.MethodGet, "/api/v4/channels/"+url.PathEscape(ic.ID), nil); gerr == nil {
			var c mmChannel
			if json.Unmarshal(data, &c) == nil && c.DeleteAt > 0 {
				err = nil
			}
		}
	}
	err = mmScope(err, "delete_public_channel")
	m.ch.metrics.step(m.ch.sink, "archive", err)
	if err != nil {
		return th, err
	}
	m.logger.Info("incident channel archived", "incident", incidentID, "channel", ic.Name)
	ic.Archived, ic.ArchiveAt = true, nil
	return withChannel(th, ic), nil
}

// findPart says whether the channel's recent posts hold the incident's post of that part.
func (m *mattermost) findPart(ctx context.Context, channel, incidentID, part string) (bool, error) {
	data, err := m.call(ctx, "look for the "+part+" post", http.MethodGet,
		fmt.Sprintf("/api/v4/channels/%s/posts?page=0&per_page=%d", url.PathEscape(channel), mmSearchPosts), nil)
	if err != nil {
		return false, err
	}
	var page struct {
		Posts map[string]mmPost `json:"posts"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return false, fmt.Errorf("look for the %s post in %s: %w", part, m.client.where, err)
	}
	for _, p := range page.Posts {
		if p.Props[mmPropIncident] == incidentID && p.Props[mmPropPart] == part {
			return true, nil
		}
	}
	return false, nil
}

// postmortemNote follows the resolution in the incident channel with the link to the
// postmortem skeleton; a failure costs the note, not the delivery.
func (m *mattermost) postmortemNote(ctx context.Context, ic *IncidentChannel, rep *triaged.Report, maybePosted bool) {
	if maybePosted {
		if found, err := m.findPart(ctx, ic.ID, rep.IncidentID, "postmortem"); err != nil || found {
			return
		}
	}
	p := mmPost{ChannelID: ic.ID, Message: "Resolved. Next: the postmortem. " + m.postmortemText(rep.IncidentID),
		Props: map[string]any{mmPropIncident: rep.IncidentID, mmPropReport: rep.ID, mmPropPart: "postmortem"}}
	if _, err := m.post(ctx, rep, p); err != nil {
		m.logger.Warn("the postmortem's link not posted in the incident channel", "channel", ic.Name, "err", err)
	}
}

func (m *mattermost) postmortemText(incidentID string) string {
	if link := postmortemLink(m.ch.external, incidentID); link != "" {
		return "Postmortem skeleton: [postmortem.md](" + link + ")"
	}
	return "Postmortem skeleton: `GET /api/v1/incidents/" + pathEscape(incidentID) + "/postmortem.md` on triaged"
}
