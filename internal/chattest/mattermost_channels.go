package chattest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// MattermostBotID is the bot's user id: it creates the channels it makes and is their member.
const MattermostBotID = "ubot0000000000000000000001"

// The permissions of the Mattermost REST API's channel calls a bot may lack
// (https://developers.mattermost.com/api-documentation/): the fake answers 403, as Mattermost
// does, for the ones a test denies.
const (
	PermCreateChannel    = "create_public_channel"
	PermManageMembers    = "manage_public_channel_members"
	PermManageProperties = "manage_public_channel_properties"
	PermDeleteChannel    = "delete_public_channel"
	// PermManageTeam is what restoring an archived channel asks, of the channel's team
	// (api4 restoreChannel).
	PermManageTeam = "manage_team"
)

// MMUser is a user of the fake Mattermost.
type MMUser struct{ ID, Username, Email string }

// MMChannel is a channel as a test sees it.
type MMChannel struct {
	ID, Team, Name, DisplayName, Purpose, Header string
	Deleted                                      bool
	Members                                      []string
	Pinned                                       []string // post ids
}

// Mattermost's rules for a channel's name (model.Channel.IsValid): lower-case letters, digits,
// '-' and '_', a letter or digit at either end, 2 to 64 characters (IsValidChannelIdentifier as
// servers before v10 have it: the newest take 1 character and a '-' or '_' at the end), and not
// a direct message's name (two user ids joined by "__") or a group message's (40 hex digits).
var (
	mmChannelName = regexp.MustCompile(`^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]+$`)
	mmGroupName   = regexp.MustCompile(`^[a-f0-9]{40}$`)
	mmUserID      = regexp.MustCompile(`^[a-zA-Z0-9]{26}$`)
)

// mmNameRefusal is the id of Mattermost's refusal of name, or "" when it takes it.
func mmNameRefusal(name string) string {
	if len(name) < 2 || len(name) > 64 || !mmChannelName.MatchString(name) {
		return "model.channel.is_valid.2_or_more.app_error"
	}
	ids := strings.Split(name, "__")
	if mmGroupName.MatchString(name) || len(ids) == 2 && mmUserID.MatchString(ids[0]) && mmUserID.MatchString(ids[1]) {
		return "model.channel.is_valid.name.app_error"
	}
	return ""
}

// Deny takes permissions from the bot.
func (m *Mattermost) Deny(perms ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.denied == nil {
		m.denied = map[string]bool{}
	}
	for _, p := range perms {
		m.denied[p] = true
	}
}

// AddPrivateChannel creates a private channel the bot is not a member of, and returns its id:
// the bot cannot find it by name (Mattermost answers 404, as for no channel), and its name is
// taken.
func (m *Mattermost) AddPrivateChannel(team, name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.newID("c")
	m.teamID(team)
	m.channels = append(m.channels, &mmChannel{id: id, team: team, name: name, private: true, members: []string{"uowner"}})
	return id
}

// AddUser adds a user.
func (m *Mattermost) AddUser(u MMUser) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users = append(m.users, u)
}

// Channel is the channel named name in team, and whether there is one.
func (m *Mattermost) Channel(team, name string) (MMChannel, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.channels {
		if c.team == team && c.name == name {
			out := MMChannel{ID: c.id, Team: c.team, Name: c.name, DisplayName: c.display, Purpose: c.purpose,
				Header: c.header, Deleted: c.deleted, Members: slices.Clone(c.members)}
			for _, id := range m.order {
				if p := m.posts[id]; p.ChannelID == c.id && p.IsPinned {
					out.Pinned = append(out.Pinned, id)
				}
			}
			return out, true
		}
	}
	return MMChannel{}, false
}

// CreatedChannels are the names of the channels the API created, in order.
func (m *Mattermost) CreatedChannels() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.created)
}

func (m *Mattermost) teamID(name string) string {
	if m.teams == nil {
		m.teams = map[string]string{}
	}
	if id, ok := m.teams[name]; ok {
		return id
	}
	id := m.newID("t")
	m.teams[name] = id
	return id
}

func (m *Mattermost) forbidden(w http.ResponseWriter, perm string) bool {
	if !m.denied[perm] {
		return false
	}
	mmError(w, http.StatusForbidden, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
	return true
}

func (c *mmChannel) json(teamID string) map[string]any {
	deleteAt := 0
	if c.deleted {
		deleteAt = 1
	}
	typ := "O"
	if c.private {
		typ = "P"
	}
	return map[string]any{"id": c.id, "team_id": teamID, "name": c.name, "display_name": c.display, "type": typ,
		"purpose": c.purpose, "header": c.header, "creator_id": c.creator, "delete_at": deleteAt}
}

// serveChannels answers the channel, user and pin calls; it says whether it knew the path.
func (m *Mattermost) serveChannels(w http.ResponseWriter, r *http.Request, parts []string) bool {
	switch {
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "teams" && parts[1] == "name":
		if !slices.ContainsFunc(m.channels, func(c *mmChannel) bool { return c.team == parts[2] }) {
			mmError(w, http.StatusNotFound, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.")
			return true
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": m.teamID(parts[2]), "name": parts[2]})
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "channels":
		m.createChannel(w, r)
	case r.Method == http.MethodGet && len(parts) == 5 && parts[0] == "teams" && parts[2] == "channels" && parts[3] == "name":
		for _, c := range m.channels {
			if m.teamID(c.team) == parts[1] && c.name == parts[4] && (!c.deleted || r.URL.Query().Get("include_deleted") == "true") {
				if c.private && !slices.Contains(c.members, MattermostBotID) {
					break // no read_channel: Mattermost answers as if there were no channel
				}
				writeJSON(w, http.StatusOK, c.json(parts[1]))
				return true
			}
		}
		mmError(w, http.StatusNotFound, "app.channel.get_by_name.missing.app_error", "Channel does not exist.")
	case len(parts) >= 2 && parts[0] == "channels" && m.find(parts[1]) != nil:
		m.onChannel(w, r, m.find(parts[1]), parts[2:])
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "users" && (parts[1] == "email" || parts[1] == "username"):
		for _, u := range m.users {
			if parts[1] == "email" && strings.EqualFold(u.Email, parts[2]) || parts[1] == "username" && u.Username == parts[2] {
				writeJSON(w, http.StatusOK, map[string]string{"id": u.ID, "username": u.Username, "email": u.Email})
				return true
			}
		}
		mmError(w, http.StatusNotFound, "app.user.missing_account.const", "Unable to find the user.")
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "posts" && parts[2] == "pin":
		p, ok := m.posts[parts[1]]
		if !ok {
			mmError(w, http.StatusNotFound, "app.post.get.app_error", "Unable to get the post.")
			return true
		}
		p.IsPinned = true
		writeJSON(w, http.StatusOK, map[string]string{"status": "OK"})
	default:
		return false
	}
	return true
}

func (m *Mattermost) find(id string) *mmChannel {
	for _, c := range m.channels {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (m *Mattermost) createChannel(w http.ResponseWriter, r *http.Request) {
	var c struct {
		TeamID      string `json:"team_id"`
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
		Purpose     string `json:"purpose"`
		Header      string `json:"header"`
		Type        string `json:"type"`
	}
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		mmError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing channel in request body.")
		return
	}
	if m.forbidden(w, PermCreateChannel) {
		return
	}
	team := ""
	for name, id := range m.teams {
		if id == c.TeamID {
			team = name
		}
	}
	switch {
	case team == "":
		mmError(w, http.StatusForbidden, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	case mmNameRefusal(c.Name) != "":
		mmError(w, http.StatusBadRequest, mmNameRefusal(c.Name), "Invalid channel name.")
		return
	case c.DisplayName == "" || utf8.RuneCountInString(c.DisplayName) > 64:
		mmError(w, http.StatusBadRequest, "model.channel.is_valid.display_name.app_error", "Invalid display name.")
		return
	case utf8.RuneCountInString(c.Purpose) > 250:
		mmError(w, http.StatusBadRequest, "model.channel.is_valid.purpose.app_error", "Invalid purpose.")
		return
	case utf8.RuneCountInString(c.Header) > 1024:
		mmError(w, http.StatusBadRequest, "model.channel.is_valid.header.app_error", "Invalid header.")
		return
	case c.Type != "O" && c.Type != "P":
		mmError(w, http.StatusBadRequest, "model.channel.is_valid.type.app_error", "Invalid type.")
		return
	}
	for _, e := range m.channels {
		if e.team == team && e.name == c.Name { // deleted (archived) channels keep their names
			mmError(w, http.StatusBadRequest, "store.sql_channel.save_channel.exists.app_error", "A channel with that name already exists on the same team.")
			return
		}
	}
	ch := &mmChannel{id: m.newID("c"), team: team, name: c.Name, display: c.DisplayName, purpose: c.Purpose,
		header: c.Header, creator: MattermostBotID, members: []string{MattermostBotID}}
	m.channels = append(m.channels, ch)
	m.created = append(m.created, c.Name)
	writeJSON(w, http.StatusCreated, ch.json(c.TeamID))
}

func (m *Mattermost) onChannel(w http.ResponseWriter, r *http.Request, c *mmChannel, rest []string) {
	teamID := m.teamID(c.team)
	switch {
	case r.Method == http.MethodGet && len(rest) == 0:
		writeJSON(w, http.StatusOK, c.json(teamID))
	case r.Method == http.MethodPut && len(rest) == 1 && rest[0] == "patch":
		if m.forbidden(w, PermManageProperties) {
			return
		}
		var p struct{ Header, Purpose *string }
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			mmError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing channel in request body.")
			return
		}
		if p.Header != nil {
			c.header = *p.Header
		}
		if p.Purpose != nil {
			c.purpose = *p.Purpose
		}
		writeJSON(w, http.StatusOK, c.json(teamID))
	case r.Method == http.MethodPost && len(rest) == 1 && rest[0] == "members":
		if m.forbidden(w, PermManageMembers) {
			return
		}
		var b struct {
			UserID string `json:"user_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&b)
		if !slices.ContainsFunc(m.users, func(u MMUser) bool { return u.ID == b.UserID }) {
			mmError(w, http.StatusNotFound, "app.user.missing_account.const", "Unable to find the user.")
			return
		}
		if !slices.Contains(c.members, b.UserID) {
			c.members = append(c.members, b.UserID)
			slices.Sort(c.members)
		}
		writeJSON(w, http.StatusCreated, map[string]string{"channel_id": c.id, "user_id": b.UserID})
	case r.Method == http.MethodDelete && len(rest) == 0:
		if m.forbidden(w, PermDeleteChannel) {
			return
		}
		if c.deleted {
			mmError(w, http.StatusBadRequest, "api.channel.delete_channel.deleted.app_error", "The channel has been archived or deleted.")
			return
		}
		c.deleted = true
		writeJSON(w, http.StatusOK, map[string]string{"status": "OK"})
	case r.Method == http.MethodPost && len(rest) == 1 && rest[0] == "restore":
		if m.forbidden(w, PermManageTeam) {
			return
		}
		c.deleted = false
		writeJSON(w, http.StatusOK, c.json(teamID))
	case r.Method == http.MethodGet && len(rest) == 1 && rest[0] == "posts":
		m.channelPosts(w, r, c.id)
	default:
		mmError(w, http.StatusNotFound, "api.context.404.app_error", "Sorry, we could not find the page.")
	}
}
