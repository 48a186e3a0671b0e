package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/triaged/triaged"
)

// Slack's limits on a channel: its name (https://api.slack.com/methods/conversations.create)
// and its topic.
const (
	slackMaxChannelName = 80
	slackMaxTopic       = 250
	// slackListPages bounds conversations.list and users.list when a name is looked up: 20
	// pages of up to 1,000 channels (or 200 users) each.
	slackListPages = 20
)

// The event types of the messages a Slack sink posts in an incident channel besides reports.
const (
	slackNoteEvent       = "triaged_note"       // who could not be invited
	slackClosingEvent    = "triaged_closing"    // the closing message before archiving
	slackPostmortemEvent = "triaged_postmortem" // the postmortem's link after the resolution
)

// slackConv is a channel as conversations.create and conversations.list give it.
type slackConv struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Creator    string `json:"creator"`
	IsArchived bool   `json:"is_archived"`
	Purpose    struct {
		Value string `json:"value"`
	} `json:"purpose"`
}

// slackSelf is what auth.test says of the bot: its user, and the workspace's URL.
type slackSelf struct {
	UserID string `json:"user_id"`
	URL    string `json:"url"`
}

// slackChannels is the incident-channel state of a Slack sink.
type slackChannels struct {
	*channelKeeper

	mu   sync.Mutex
	self *slackSelf
}

func (c *slackChannels) keeper() *channelKeeper {
	if c == nil {
		return nil
	}
	return c.channelKeeper
}

// form calls a method that takes a form and decodes its answer into out (nil: only ok).
func (c *slackAPI) form(ctx context.Context, method string, form url.Values, out any) error {
	data, err := c.send(ctx, method, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return err
	}
	var head struct {
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		Needed string `json:"needed"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("slack %s: answer is not JSON: %w", method, err)
	}
	if err := slackRefusal(method, head.OK, head.Error, head.Needed); err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("slack %s: %w", method, err)
		}
	}
	return nil
}

// whoami is auth.test's answer, asked once.
func (s *Slack) whoami(ctx context.Context) (*slackSelf, error) {
	s.ch.mu.Lock()
	self := s.ch.self
	s.ch.mu.Unlock()
	if self != nil {
		return self, nil
	}
	var me slackSelf
	if err := s.api.form(ctx, "auth.test", url.Values{}, &me); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(me.URL, "/") {
		me.URL += "/"
	}
	s.ch.mu.Lock()
	s.ch.self = &me
	s.ch.mu.Unlock()
	return &me, nil
}

func (s *Slack) unarchive(ctx context.Context, ic *IncidentChannel) error {
	return s.api.form(ctx, "conversations.unarchive", url.Values{"channel": {ic.ID}}, nil)
}

func (s *Slack) scopeHint(scope string) string {
	return fmt.Sprintf("the Slack app lacks the %s scope", cmpOr(scope, "needed"))
}

// createChannel creates the incident's channel, or finds the one an earlier attempt (a crash, a
// replica racing) created: by name, then by the marker in its purpose, or, for the name this
// incident claimed, as the bot's channel not yet marked. A name another incident's channel holds
// moves on to the next ("-2" …, then the end of the incident's ID).
func (s *Slack) createChannel(ctx context.Context, rep *triaged.Report, claimed string, claim func(context.Context, string) error) (*IncidentChannel, error) {
	base, err := s.ch.policy.channelName(rep)
	if err != nil {
		return nil, Permanent(fmt.Errorf("name the incident channel: %w", err))
	}
	self, err := s.whoami(ctx)
	if err != nil {
		return nil, err
	}
	marker := channelMarker(rep.IncidentID)
	names := channelNames(base, slackMaxChannelName, rep.IncidentID, claimed)
	for _, name := range names {
		if name != claimed {
			if err := claim(ctx, name); err != nil {
				return nil, err
			}
		}
		var created struct {
			Channel slackConv `json:"channel"`
		}
		err := s.api.form(ctx, "conversations.create", url.Values{"name": {name}}, &created)
		if err == nil {
			// The marker first: it is what tells a retry, or a replica, that the channel is
			// this incident's. Until it is set, only this incident's claim does.
			ic := &IncidentChannel{ID: created.Channel.ID, Name: created.Channel.Name, URL: self.URL + "archives/" + created.Channel.ID}
			if err := s.mark(ctx, rep, ic); err != nil {
				s.log.Warn("slack: could not mark the incident channel as the incident's; tried again with the next report", "sink", s.name, "channel", name, "err", err)
				ic.Unmarked = true
			}
			s.ch.metrics.open(s.name, channelCreated)
			s.log.Info("slack: incident channel created", "sink", s.name, "incident", rep.IncidentID, "channel", name, "id", created.Channel.ID)
			return ic, nil
		}
		if slackCode(err) == "restricted_action" {
			return nil, Permanent(fmt.Errorf("the workspace lets only some members create channels (Slack's Settings & Permissions, Channel Management): allow the app, or set incident_channel off: %w", err))
		}
		if slackCode(err) != "name_taken" {
			return nil, err
		}
		found, err := s.findChannel(ctx, name)
		if err != nil {
			return nil, err
		}
		if found == nil {
			continue
		}
		if found.Purpose.Value == "" && found.Creator == self.UserID && name != claimed {
			// The bot's, not yet marked, and not this incident's claim: another replica may be
			// between creating it and marking it for this same incident. Give it a moment
			// rather than making a second channel; unmarked still, it is taken.
			if found, err = s.awaitMarker(ctx, name, found); err != nil {
				return nil, err
			}
			if found == nil {
				continue
			}
		}
		mine := strings.Contains(found.Purpose.Value, marker)
		unmarked := !mine && found.Purpose.Value == "" && found.Creator == self.UserID && name == claimed
		if mine || unmarked {
			s.ch.metrics.open(s.name, channelFound)
			ic := &IncidentChannel{ID: found.ID, Name: found.Name, URL: self.URL + "archives/" + found.ID, Archived: found.IsArchived}
			if unmarked {
				ic.Unmarked = s.mark(ctx, rep, ic) != nil
			}
			return ic, nil
		}
	}
	return nil, Permanent(namesTaken(base, slackMaxChannelName, rep.IncidentID))
}

// Waiting for another replica to mark the channel it created: tries at this interval.
const (
	markerPolls    = 4
	markerInterval = 500 * time.Millisecond
)

// awaitMarker looks the unmarked channel up again until its purpose is set, it is gone, or
// markerPolls looks have passed; it returns what it saw last.
func (s *Slack) awaitMarker(ctx context.Context, name string, found *slackConv) (*slackConv, error) {
	for range markerPolls {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(markerInterval):
		}
		again, err := s.findChannel(ctx, name)
		if err != nil || again == nil || again.Purpose.Value != "" {
			return again, err
		}
		found = again
	}
	return found, nil
}

// mark sets the incident's marker as the channel's purpose.
func (s *Slack) mark(ctx context.Context, rep *triaged.Report, ic *IncidentChannel) error {
	return s.api.form(ctx, "conversations.setPurpose", url.Values{"channel": {ic.ID}, "purpose": {channelMarker(rep.IncidentID)}}, nil)
}

// findChannel looks a public channel up by name, archived ones included: first among the bot's
// own channels (users.conversations), where the channel an earlier attempt created is, then
// among all, for whose channel holds the name. A large workspace has more channels than
// slackListPages pages of conversations.list show, and the bot's own channel must never be
// missed there: a "-2" would be a second channel for the incident.
func (s *Slack) findChannel(ctx context.Context, name string) (*slackConv, error) {
	for _, method := range []string{"users.conversations", "conversations.list"} {
		found, err := s.findIn(ctx, method, name)
		if found != nil || err != nil {
			return found, err
		}
	}
	return nil, nil
}

func (s *Slack) findIn(ctx context.Context, method, name string) (*slackConv, error) {
	cursor := ""
	for range slackListPages {
		var page struct {
			Channels []slackConv `json:"channels"`
			Meta     struct {
				NextCursor string `json:"next_cursor"`
			} `json:"response_metadata"`
		}
		form := url.Values{"types": {"public_channel"}, "exclude_archived": {"false"}, "limit": {"1000"}}
		if cursor != "" {
			form.Set("cursor", cursor)
		}
		if err := s.api.form(ctx, method, form, &page); err != nil {
			return nil, err
		}
		for i := range page.Channels {
			if page.Channels[i].Name == name {
				return &page.Channels[i], nil
			}
		}
		if cursor = page.Meta.NextCursor; cursor == "" {
			return nil, nil
		}
	}
	return nil, nil
}

// postIncident posts rep in the incident's channel, unless the channel is archived. The first
// time, it also sets the channel up: topic, invitations, the report pinned. Only a failure a
// retry may mend is returned: a refusal is logged and counted, the team channel has the report.
func (s *Slack) postIncident(ctx context.Context, th *Thread, rep *triaged.Report, maybePosted bool) (*Thread, error) {
	if s.ch == nil || th == nil || th.Incident == nil || th.Incident.ID == "" || th.Incident.Archived {
		return th, nil
	}
	ic := th.Incident.clone()
	ts := ic.PostedTS
	if ic.Posted != rep.ID {
		var err error
		ts, err = s.postIn(ctx, ic.ID, rep, maybePosted)
		if err != nil {
			if !IsPermanent(err) {
				return th, fmt.Errorf("post in the incident channel #%s: %w", ic.Name, err)
			}
			s.ch.metrics.step(s.name, "post", err)
			s.log.Error("slack: report not posted in the incident channel; it is in the team channel", "sink", s.name, "report", rep.ID, "channel", ic.Name, "err", err)
			if slackCode(err) == "is_archived" {
				// Archived by a person, or by the archiver as the incident reopened: recorded,
				// so the later reports say so instead of trying.
				ic.Archived, ic.ArchiveAt = true, nil
				return withChannel(th, ic), nil
			}
			return th, nil
		}
		ic.Posted, ic.PostedTS = rep.ID, ts
		if rep.Event == triaged.EventResolved {
			s.postmortemNote(ctx, ic, rep, maybePosted)
		}
	}
	headline := truncate(slackMaxTopic-1, triaged.Headline(rep)) // and the ellipsis
	if ic.Topic != headline {
		err := s.api.form(ctx, "conversations.setTopic", url.Values{"channel": {ic.ID}, "topic": {headline}}, nil)
		s.ch.metrics.step(s.name, "topic", err)
		if err != nil {
			s.log.Warn("slack: incident channel topic not set", "sink", s.name, "channel", ic.Name, "err", err)
		} else {
			ic.Topic = headline
		}
	}
	if !ic.Ready {
		// A failure a retry may mend (a 429, Slack unavailable) is retried with the report, which
		// is not posted again (Posted); a refusal is listed in the channel and counted.
		if err := s.invite(ctx, ic, rep); err != nil {
			return withChannel(th, ic), fmt.Errorf("set up the incident channel #%s: %w", ic.Name, err)
		}
		if ts != "" {
			err := s.api.form(ctx, "pins.add", url.Values{"channel": {ic.ID}, "timestamp": {ts}}, nil)
			if slackCode(err) == "already_pinned" {
				err = nil
			}
			s.ch.metrics.step(s.name, "pin", err)
			if err != nil && !IsPermanent(err) {
				return withChannel(th, ic), fmt.Errorf("pin the report in the incident channel #%s: %w", ic.Name, err)
			}
			if err != nil {
				s.log.Warn("slack: report not pinned in the incident channel", "sink", s.name, "channel", ic.Name, "err", err)
			}
		}
		ic.Ready = true
	}
	return withChannel(th, ic), nil
}

// postIn posts the full report in channel ch as a message of its own, or finds it posted by an
// earlier attempt; it returns the message's ts ("" when it was found without one).
func (s *Slack) postIn(ctx context.Context, ch string, rep *triaged.Report, maybePosted bool) (string, error) {
	if maybePosted {
		if ts, err := s.lookup(ctx, ch, "", slackReportEvent, "report_id", rep.ID); err != nil || ts != "" {
			return ts, err
		}
	}
	m, err := s.r.Report(rep)
	if err != nil {
		return "", Permanent(err)
	}
	m.Channel, m.Metadata = ch, slackMeta(slackReportEvent, rep)
	resp, err := s.api.post(ctx, "chat.postMessage", m)
	if err != nil {
		return "", err
	}
	return resp.TS, nil
}

// postmortemNote follows the resolution in the incident channel with the link to the
// postmortem skeleton, the workflow's next step. A failure costs the note, not the delivery.
func (s *Slack) postmortemNote(ctx context.Context, ic *IncidentChannel, rep *triaged.Report, maybePosted bool) {
	if maybePosted {
		if ts, err := s.lookup(ctx, ic.ID, "", slackPostmortemEvent, "report_id", rep.ID); err != nil || ts != "" {
			return
		}
	}
	m := slackMessage{Channel: ic.ID, Text: "Resolved. Next: the postmortem. " + s.postmortemText(rep.IncidentID),
		Metadata: slackMeta(slackPostmortemEvent, rep)}
	if _, err := s.api.post(ctx, "chat.postMessage", m); err != nil {
		s.log.Warn("slack: the postmortem's link not posted in the incident channel", "sink", s.name, "channel", ic.Name, "err", err)
	}
}

// postmortemText links the incident's postmortem skeleton, or names its endpoint when
// triaged's external URL is unknown.
func (s *Slack) postmortemText(incidentID string) string {
	if link := postmortemLink(s.ch.external, incidentID); link != "" {
		return "Postmortem skeleton: <" + link + "|postmortem.md>"
	}
	return "Postmortem skeleton: GET /api/v1/incidents/" + slackEscape(pathEscape(incidentID)) + "/postmortem.md on triaged"
}
