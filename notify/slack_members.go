package notify

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// slackPeople resolves the catalog's names to Slack users for one channel's invitations:
// e-mails with users.lookupByEmail, handles among users.list (name or display name), then among
// the user groups (a team's handle). The lists are read at most once.
type slackPeople struct {
	api    *slackAPI
	users  []slackUser
	groups []slackGroup
	listed bool
}

type slackUser struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
	Profile struct {
		DisplayName string `json:"display_name"`
	} `json:"profile"`
}

type slackGroup struct {
	Handle string   `json:"handle"`
	Users  []string `json:"users"`
}

// resolve returns the user IDs who names; none when nobody has that e-mail or handle.
func (p *slackPeople) resolve(ctx context.Context, who string) ([]string, error) {
	if isEmail(who) {
		var found struct {
			User slackUser `json:"user"`
		}
		err := p.api.form(ctx, "users.lookupByEmail", url.Values{"email": {who}}, &found)
		if slackCode(err) == "users_not_found" {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []string{found.User.ID}, nil
	}
	if err := p.list(ctx); err != nil {
		return nil, err
	}
	// A user's name is unique in a workspace, a display name is not: a display name shared by
	// two people names nobody, rather than the wrong one of them.
	handle := strings.TrimPrefix(who, "@")
	var byDisplay []string
	for _, u := range p.users {
		switch {
		case u.Deleted:
		case u.Name == handle:
			return []string{u.ID}, nil
		case u.Profile.DisplayName == handle:
			byDisplay = append(byDisplay, u.ID)
		}
	}
	if len(byDisplay) == 1 {
		return byDisplay, nil
	}
	for _, g := range p.groups {
		if g.Handle == handle {
			return g.Users, nil
		}
	}
	return nil, nil
}

func (p *slackPeople) list(ctx context.Context) error {
	if p.listed {
		return nil
	}
	cursor := ""
	for range slackListPages {
		var page struct {
			Members []slackUser `json:"members"`
			Meta    struct {
				NextCursor string `json:"next_cursor"`
			} `json:"response_metadata"`
		}
		form := url.Values{"limit": {"200"}}
		if cursor != "" {
			form.Set("cursor", cursor)
		}
		if err := p.api.form(ctx, "users.list", form, &page); err != nil {
			return err
		}
		p.users = append(p.users, page.Members...)
		if cursor = page.Meta.NextCursor; cursor == "" {
			break
		}
	}
	var groups struct {
		Groups []slackGroup `json:"usergroups"`
	}
	// User groups need usergroups:read; without it a team's handle is just not found.
	if err := p.api.form(ctx, "usergroups.list", url.Values{"include_users": {"true"}}, &groups); err == nil {
		p.groups = groups.Groups
	}
	p.listed = true
	return nil
}

// invite invites the on-call, the owners and the team into the incident's channel. Whoever
// cannot be found or invited for good is listed in the channel, for a person to invite by hand;
// a failure a retry may mend (a 429 on users.list, which Slack allows about 20 times a minute)
// is returned instead, for the delivery to try again: inviting again is harmless.
func (s *Slack) invite(ctx context.Context, ic *IncidentChannel, rep *triaged.Report) error {
	self, _ := s.whoami(ctx)
	people := &slackPeople{api: s.api}
	var missed []string
	for _, who := range invitees(rep) {
		ids, err := people.resolve(ctx, who)
		if err != nil {
			s.ch.metrics.step(s.name, "invite", err)
			if !IsPermanent(err) {
				return fmt.Errorf("look %s up: %w", who, err)
			}
			s.log.Warn("slack: could not look a person up for the incident channel", "sink", s.name, "who", who, "err", err)
			missed = append(missed, fmt.Sprintf("%s (lookup failed: %s)", who, slackCodeOr(err)))
			continue
		}
		if len(ids) == 0 {
			s.ch.metrics.steps.WithLabelValues(s.name, "invite", "unknown_user").Inc()
			missed = append(missed, who+" (no Slack user or user group by that e-mail or handle)")
			continue
		}
		for _, id := range ids {
			if self != nil && id == self.UserID {
				continue
			}
			err := s.api.form(ctx, "conversations.invite", url.Values{"channel": {ic.ID}, "users": {id}}, nil)
			if c := slackCode(err); c == "already_in_channel" || c == "cant_invite_self" {
				err = nil
			}
			s.ch.metrics.step(s.name, "invite", err)
			if err != nil && !IsPermanent(err) {
				return fmt.Errorf("invite %s: %w", who, err)
			}
			if err != nil {
				// One member of a user group refused (deactivated, a guest) keeps none of
				// the others out.
				s.log.Warn("slack: could not invite a person into the incident channel", "sink", s.name, "who", who, "channel", ic.Name, "err", err)
				missed = append(missed, fmt.Sprintf("%s (%s)", who, slackCodeOr(err)))
			}
		}
	}
	if len(missed) == 0 {
		return nil
	}
	if ts, err := s.lookup(ctx, ic.ID, "", slackNoteEvent, "incident_id", rep.IncidentID); err != nil || ts != "" {
		return nil // listed by an earlier attempt
	}
	text := "Not invited, please invite by hand: " + slackEscape(strings.Join(slices.Compact(missed), ", "))
	m := slackMessage{Channel: ic.ID, Text: text, Metadata: &slackMetadata{EventType: slackNoteEvent,
		EventPayload: map[string]string{"incident_id": rep.IncidentID}}}
	if _, err := s.api.post(ctx, "chat.postMessage", m); err != nil {
		s.log.Warn("slack: could not list the people not invited in the incident channel", "sink", s.name, "channel", ic.Name, "err", err)
	}
	return nil
}

// slackCodeOr is Slack's error code for err, or its text.
func slackCodeOr(err error) string {
	if c := slackCode(err); c != "" {
		return c
	}
	return err.Error()
}

// slackEscape escapes text for mrkdwn: &, < and >, as Slack asks.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// archives says whether the sink archives incident channels at all.
func (s *Slack) archives() bool { return s.ch != nil && s.ch.policy.archiveAfter > 0 }

// ArchiveAfter is incident_channel.archive_after.
func (s *Slack) ArchiveAfter() time.Duration {
	if s.ch == nil {
		return 0
	}
	return s.ch.policy.archiveAfter
}

// Archive posts the closing message in the incident's channel, linking the postmortem
// skeleton, and archives the channel. Called again (a crash, a replica), it finds its closing
// message instead of posting another, and takes already_archived for done.
func (s *Slack) Archive(ctx context.Context, incidentID string, th *Thread) (*Thread, error) {
	if s.ch == nil || th == nil || th.Incident == nil || th.Incident.ID == "" || th.Incident.Archived {
		return th, nil
	}
	ic := th.Incident.clone()
	ts, err := s.lookup(ctx, ic.ID, "", slackClosingEvent, "incident_id", incidentID)
	if err != nil {
		return th, err
	}
	if ts == "" {
		text := "This incident is resolved and this channel is archived now. " + s.postmortemText(incidentID)
		m := slackMessage{Channel: ic.ID, Text: text, Metadata: &slackMetadata{EventType: slackClosingEvent,
			EventPayload: map[string]string{"incident_id": incidentID}}}
		_, err := s.api.post(ctx, "chat.postMessage", m)
		if slackCode(err) == "is_archived" {
			// A person archived it already: nothing to close, and nothing to do by hand.
			s.log.Info("slack: incident channel archived already", "sink", s.name, "incident", incidentID, "channel", ic.Name)
			ic.Archived, ic.ArchiveAt = true, nil
			return withChannel(th, ic), nil
		}
		if err != nil {
			s.ch.metrics.step(s.name, "archive", err)
			return th, fmt.Errorf("post the closing message in #%s: %w", ic.Name, err)
		}
	}
	err = s.api.form(ctx, "conversations.archive", url.Values{"channel": {ic.ID}}, nil)
	if slackCode(err) == "already_archived" {
		err = nil
	}
	s.ch.metrics.step(s.name, "archive", err)
	if err != nil {
		return th, fmt.Errorf("archive #%s: %w", ic.Name, err)
	}
	s.log.Info("slack: incident channel archived", "sink", s.name, "incident", incidentID, "channel", ic.Name)
	ic.Archived, ic.ArchiveAt = true, nil
	return withChannel(th, ic), nil
}
