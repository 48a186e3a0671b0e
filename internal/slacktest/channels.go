package slacktest

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// BotUserID is the app's bot user, as auth.test gives it; it creates the channels it makes.
const BotUserID = "UBOT00001"

// The scopes each Web API method needs of a bot token
// (https://api.slack.com/methods/<method>, "Required scopes"). A method not listed needs none.
var methodScopes = map[string]string{
	"chat.postMessage":         "chat:write",
	"chat.update":              "chat:write",
	"conversations.history":    "channels:history",
	"conversations.replies":    "channels:history",
	"conversations.create":     "channels:manage",
	"conversations.setPurpose": "channels:manage",
	"conversations.setTopic":   "channels:manage",
	"conversations.invite":     "channels:manage",
	"conversations.archive":    "channels:manage",
	"conversations.unarchive":  "channels:manage",
	"conversations.list":       "channels:read",
	"users.conversations":      "channels:read",
	"pins.add":                 "pins:write",
	"users.list":               "users:read",
	"users.lookupByEmail":      "users:read.email",
	"usergroups.list":          "usergroups:read",
}

// Scopes are the bot scopes the app has unless a test revokes some: the ones the example
// manifest (examples/slack-app-manifest.yml) asks for.
var Scopes = []string{"chat:write", "channels:history", "channels:manage", "channels:read", "pins:write",
	"users:read", "users:read.email", "usergroups:read"}

// User is a member of the workspace.
type User struct {
	ID, Name, DisplayName, Email string
}

// ChannelInfo is a channel as a test sees it.
type ChannelInfo struct {
	ID, Name, Topic, Purpose, Creator string
	Archived                          bool
	Members                           []string // user IDs, the bot's included when it is a member
	Pins                              []string // the ts of the pinned messages
}

// Slack's rule for a channel name (conversations.create): lower-case letters, digits, '-' and
// '_', at most 80 characters.
var channelName = regexp.MustCompile(`^[a-z0-9_-]+$`)

// RevokeScope takes scopes from the app: the methods that need one answer missing_scope.
func (s *Server) RevokeScope(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range scopes {
		s.revoked[sc] = true
	}
}

// AddOthersChannels adds n public channels named prefix-1 … prefix-n that people made and the
// bot is not in, as a large workspace has.
func (s *Server) AddOthersChannels(prefix string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("C%07d", len(s.channels)+1)
		s.channels[id] = &channel{id: id, name: fmt.Sprintf("%s-%d", prefix, i+1), creator: "UPEOPLE"}
	}
}

// AddUser adds a member of the workspace.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = append(s.users, u)
}

// AddGroup adds a user group (a team's @handle) of the users with these IDs.
func (s *Server) AddGroup(handle string, userIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[handle] = userIDs
}

// Channel is the channel named name (or with that ID), and whether there is one.
func (s *Server) Channel(name string) (ChannelInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookup(name)
	if c == nil {
		return ChannelInfo{}, false
	}
	return ChannelInfo{ID: c.id, Name: c.name, Topic: c.topic, Purpose: c.purpose, Creator: c.creator,
		Archived: c.archived, Members: slices.Clone(c.members), Pins: slices.Clone(c.pins)}, true
}

// Created are the names of the channels conversations.create made, in order.
func (s *Server) Created() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.created)
}

// scoped answers missing_scope, as Slack does, when the app lacks the scope method needs.
func (s *Server) scoped(w http.ResponseWriter, method string) bool {
	need, ok := methodScopes[method]
	if !ok || !s.revoked[need] {
		return true
	}
	var provided []string
	for _, sc := range Scopes {
		if !s.revoked[sc] {
			provided = append(provided, sc)
		}
	}
	reply(w, map[string]any{"ok": false, "error": "missing_scope", "needed": need, "provided": strings.Join(provided, ",")})
	return false
}

func (c *channel) info() map[string]any {
	return map[string]any{
		"id": c.id, "name": c.name, "name_normalized": c.name, "is_channel": true, "is_private": false,
		"is_archived": c.archived, "is_member": slices.Contains(c.members, BotUserID), "creator": c.creator,
		"topic":       map[string]any{"value": c.topic},
		"purpose":     map[string]any{"value": c.purpose},
		"num_members": len(c.members),
	}
}

// manage answers the methods of channels, people and pins; each takes a form.
func (s *Server) manage(w http.ResponseWriter, method string, form url.Values) {
	switch method {
	case "auth.test":
		reply(w, map[string]any{"ok": true, "url": s.URL + "/", "team": "Test", "user": "triaged", "team_id": "T0000001", "user_id": BotUserID, "bot_id": "B0000001"})
	case "conversations.create":
		s.create(w, form.Get("name"))
	case "conversations.list":
		s.list(w, form, false)
	case "users.conversations":
		s.list(w, form, true)
	case "users.list":
		members := []map[string]any{}
		for _, u := range s.users {
			members = append(members, map[string]any{"id": u.ID, "name": u.Name, "deleted": false,
				"profile": map[string]any{"display_name": u.DisplayName, "email": u.Email}})
		}
		reply(w, map[string]any{"ok": true, "members": members, "response_metadata": map[string]any{"next_cursor": ""}})
	case "users.lookupByEmail":
		for _, u := range s.users {
			if u.Email != "" && strings.EqualFold(u.Email, form.Get("email")) {
				reply(w, map[string]any{"ok": true, "user": map[string]any{"id": u.ID, "name": u.Name}})
				return
			}
		}
		refuse(w, "users_not_found")
	case "usergroups.list":
		groups := []map[string]any{}
		for _, h := range slices.Sorted(mapKeys(s.groups)) {
			g := map[string]any{"id": "S" + h, "handle": h}
			if form.Get("include_users") == "true" {
				g["users"] = s.groups[h]
			}
			groups = append(groups, g)
		}
		reply(w, map[string]any{"ok": true, "usergroups": groups})
	default:
		s.onChannel(w, method, form)
	}
}

func mapKeys(m map[string][]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (s *Server) create(w http.ResponseWriter, name string) {
	switch {
	case name == "":
		refuse(w, "invalid_name_required")
		return
	case Len(name) > 80:
		refuse(w, "invalid_name_maxlength")
		return
	case !channelName.MatchString(name):
		refuse(w, "invalid_name_specials")
		return
	case strings.Trim(name, "-_") == "":
		refuse(w, "invalid_name_punctuation")
		return
	}
	for _, c := range s.channels {
		if c.name == name { // archived channels keep their names
			refuse(w, "name_taken")
			return
		}
	}
	id := fmt.Sprintf("C%07d", len(s.channels)+1)
	c := &channel{id: id, name: name, member: true, creator: BotUserID, members: []string{BotUserID}}
	s.channels[id] = c
	s.created = append(s.created, name)
	reply(w, map[string]any{"ok": true, "channel": c.info()})
}

// list pages through the channels in ID order, only the bot's (users.conversations) when mine;
// the cursor is the next one's index.
func (s *Server) list(w http.ResponseWriter, form url.Values, mine bool) {
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range s.channels {
			if !yield(id) {
				return
			}
		}
	})
	limit, _ := strconv.Atoi(form.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	from, _ := strconv.Atoi(form.Get("cursor"))
	out := []map[string]any{}
	next := ""
	for i := from; i < len(ids); i++ {
		if len(out) == limit {
			next = strconv.Itoa(i)
			break
		}
		c := s.channels[ids[i]]
		if c.archived && form.Get("exclude_archived") == "true" || mine && !c.member && !slices.Contains(c.members, BotUserID) {
			continue
		}
		out = append(out, c.info())
	}
	reply(w, map[string]any{"ok": true, "channels": out, "response_metadata": map[string]any{"next_cursor": next}})
}

// onChannel answers the methods that act on one channel, given by ID.
func (s *Server) onChannel(w http.ResponseWriter, method string, form url.Values) {
	c := s.channels[form.Get("channel")]
	if c == nil {
		refuse(w, "channel_not_found")
		return
	}
	if method == "conversations.unarchive" {
		// "Bot tokens (xoxb-...) cannot currently be used to unarchive conversations."
		refuse(w, "not_allowed_token_type")
		return
	}
	if !slices.Contains(c.members, BotUserID) {
		refuse(w, "not_in_channel")
		return
	}
	if c.archived {
		refuse(w, map[bool]string{true: "already_archived", false: "is_archived"}[method == "conversations.archive"])
		return
	}
	switch method {
	case "conversations.setPurpose":
		if Len(form.Get("purpose")) > 250 {
			refuse(w, "too_long")
			return
		}
		c.purpose = form.Get("purpose")
		reply(w, map[string]any{"ok": true, "channel": c.info()})
	case "conversations.setTopic":
		if Len(form.Get("topic")) > 250 {
			refuse(w, "too_long")
			return
		}
		c.topic = form.Get("topic")
		reply(w, map[string]any{"ok": true, "channel": c.info()})
	case "conversations.invite":
		s.invite(w, c, strings.Split(form.Get("users"), ","))
	case "conversations.archive":
		c.archived = true
		reply(w, map[string]any{"ok": true})
	case "pins.add":
		ts := form.Get("timestamp")
		switch {
		case ts == "":
			refuse(w, "no_item_specified")
		case c.find(ts) == nil:
			refuse(w, "message_not_found")
		case slices.Contains(c.pins, ts):
			refuse(w, "already_pinned")
		default:
			c.pins = append(c.pins, ts)
			reply(w, map[string]any{"ok": true})
		}
	default:
		refuse(w, "unknown_method")
	}
}

func (s *Server) invite(w http.ResponseWriter, c *channel, ids []string) {
	if len(ids) == 0 || ids[0] == "" {
		refuse(w, "no_user")
		return
	}
	for _, id := range ids {
		switch {
		case id == BotUserID:
			refuse(w, "cant_invite_self")
			return
		case !slices.ContainsFunc(s.users, func(u User) bool { return u.ID == id }):
			refuse(w, "user_not_found")
			return
		case slices.Contains(c.members, id):
			refuse(w, "already_in_channel")
			return
		}
	}
	c.members = append(c.members, ids...)
	sort.Strings(c.members)
	reply(w, map[string]any{"ok": true, "channel": c.info()})
}
