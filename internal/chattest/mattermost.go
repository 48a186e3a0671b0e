// Package chattest runs local stand-ins for chat services — Mattermost's REST API (posts, and
// for incident channels channels, members, users, pins, archive and restore, each refused with
// 403 when a test denies the bot its permission, and private channels the bot cannot see) and incoming webhooks, a Microsoft Teams Workflows webhook — that check each request the way the service
// would, answer errors and 429 with Retry-After on demand, and record what they accepted, so a
// sink's tests assert on what reached the channel.
package chattest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// MattermostMaxRunes is Mattermost's limit on a post's message.
const MattermostMaxRunes = 16383

// Reply is a canned answer the next request gets instead of being served.
type Reply struct {
	Status     int
	RetryAfter string // the Retry-After header, if any
	Body       string // JSON error body; a default one when empty
	// Skip lets this many matching requests through before the reply is given.
	Skip int
}

// faults is a queue of canned answers, each taken by the first request it matches.
type faults struct {
	mu    sync.Mutex
	queue []fault
}

type fault struct {
	method, path string // "" matches any
	reply        Reply
}

func (f *faults) push(method, path string, r ...Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range r {
		f.queue = append(f.queue, fault{method, path, r})
	}
}

// serve answers with the first canned reply that matches the request, if there is one.
func (f *faults) serve(w http.ResponseWriter, req *http.Request) bool {
	f.mu.Lock()
	i := slices.IndexFunc(f.queue, func(q fault) bool {
		return (q.method == "" || q.method == req.Method) && (q.path == "" || q.path == req.URL.Path)
	})
	if i < 0 {
		f.mu.Unlock()
		return false
	}
	r := f.queue[i].reply
	if r.Skip > 0 {
		f.queue[i].reply.Skip--
		f.mu.Unlock()
		return false
	}
	f.queue = slices.Delete(f.queue, i, i+1)
	f.mu.Unlock()
	if r.RetryAfter != "" {
		w.Header().Set("Retry-After", r.RetryAfter)
	}
	body := r.Body
	if body == "" {
		body = fmt.Sprintf(`{"message":%q,"status_code":%d}`, http.StatusText(r.Status), r.Status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	_, _ = w.Write([]byte(body))
	return true
}

// Post is a Mattermost post as the fake keeps it.
type Post struct {
	ID        string         `json:"id"`
	ChannelID string         `json:"channel_id"`
	RootID    string         `json:"root_id"`
	Message   string         `json:"message"`
	Props     map[string]any `json:"props,omitempty"`
	IsPinned  bool           `json:"is_pinned,omitempty"`
}

// Patch is an accepted edit of a post.
type Patch struct {
	PostID, Message string
}

// HookMessage is a message accepted by the incoming webhook.
type HookMessage struct {
	Text    string         `json:"text"`
	Channel string         `json:"channel"`
	Props   map[string]any `json:"props"`
}

type mmChannel struct {
	id, team, name string
	// Of the channels the bot creates or manages.
	display, purpose, header, creator string
	deleted, private                  bool
	members                           []string
}

// Mattermost is a Mattermost server's REST API (posts, patches, channel lookup, a channel's
// posts) for a bot with Token, and one incoming webhook at HookURL.
type Mattermost struct {
	*httptest.Server
	Token string
	faults

	mu       sync.Mutex
	hookKey  string
	channels []*mmChannel
	posts    map[string]*Post
	order    []string // post ids, oldest first
	patches  []Patch
	hooks    []HookMessage
	nextID   int

	denied  map[string]bool   // permissions taken from the bot
	users   []MMUser          // found by e-mail or username
	teams   map[string]string // team name → id
	created []string          // names of the channels the API created
}

// NewMattermost starts a fake Mattermost server, closed when the test ends.
func NewMattermost(t testing.TB) *Mattermost {
	m := &Mattermost{Token: "bot-token-3kd8", hookKey: "hook-key-8f2a", posts: map[string]*Post{}}
	m.Server = httptest.NewServer(http.HandlerFunc(m.serveHTTP))
	t.Cleanup(m.Close)
	return m
}

// HookURL is the incoming webhook's URL (its key is the secret).
func (m *Mattermost) HookURL() string { return m.URL + "/hooks/" + m.hookKey }

// AddChannel creates a channel and returns its id.
func (m *Mattermost) AddChannel(team, name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.newID("c")
	m.teamID(team)
	m.channels = append(m.channels, &mmChannel{id: id, team: team, name: name, members: []string{MattermostBotID}})
	return id
}

// Fail makes the next requests get these answers, one each, whatever they ask.
func (m *Mattermost) Fail(r ...Reply) { m.push("", "", r...) }

// FailOn makes the next requests with this method and path get these answers, one each.
func (m *Mattermost) FailOn(method, path string, r ...Reply) { m.push(method, path, r...) }

// Posts returns the accepted posts, oldest first, as they are now (edits applied).
func (m *Mattermost) Posts() []Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Post, 0, len(m.order))
	for _, id := range m.order {
		out = append(out, *m.posts[id])
	}
	return out
}

// DeletePost deletes a post as a user would, with its replies if it is a root.
func (m *Mattermost) DeletePost(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.order = slices.DeleteFunc(m.order, func(p string) bool {
		if p == id || m.posts[p].RootID == id {
			delete(m.posts, p)
			return true
		}
		return false
	})
}

// Patches returns the accepted edits in order.
func (m *Mattermost) Patches() []Patch {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.patches)
}

// Hooks returns the messages the incoming webhook accepted.
func (m *Mattermost) Hooks() []HookMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.hooks)
}

func (m *Mattermost) newID(prefix string) string {
	m.nextID++
	id := fmt.Sprintf("%s%025d", prefix, m.nextID)
	return id[:26]
}

func mmError(w http.ResponseWriter, status int, id, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "message": msg, "status_code": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (m *Mattermost) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if m.serve(w, r) {
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/hooks/"); ok {
		m.serveHook(w, r, rest)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+m.Token {
		mmError(w, http.StatusUnauthorized, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v4/"), "/")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v4/posts":
		m.createPost(w, r)
	case r.Method == http.MethodPut && len(parts) == 3 && parts[0] == "posts" && parts[2] == "patch":
		m.patchPost(w, r, parts[1])
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "channels" && parts[2] == "posts":
		m.channelPosts(w, r, parts[1])
	case r.Method == http.MethodGet && len(parts) == 6 && parts[0] == "teams" && parts[1] == "name" && parts[3] == "channels" && parts[4] == "name":
		for _, c := range m.channels {
			if c.team == parts[2] && c.name == parts[5] {
				writeJSON(w, http.StatusOK, map[string]string{"id": c.id, "name": c.name})
				return
			}
		}
		mmError(w, http.StatusNotFound, "app.channel.get_by_name.missing.app_error", "Channel does not exist.")
	case m.serveChannels(w, r, parts):
	default:
		mmError(w, http.StatusNotFound, "api.context.404.app_error", "Sorry, we could not find the page.")
	}
}

func (m *Mattermost) channel(id string) bool {
	return slices.ContainsFunc(m.channels, func(c *mmChannel) bool { return c.id == id })
}

// checkMessage applies Mattermost's rule for a message: present, at most 16,383 characters.
// It also refuses a Markdown picture whose URL is not absolute http(s): Mattermost would take
// it and show a broken picture (it resolves a path on itself), which a test must catch.
func checkMessage(w http.ResponseWriter, msg string) bool {
	if msg == "" {
		mmError(w, http.StatusBadRequest, "model.post.is_valid.msg.app_error", "Invalid Message: empty")
		return false
	}
	for _, m := range mdImage.FindAllStringSubmatch(msg, -1) {
		if u, err := url.Parse(m[1]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			mmError(w, http.StatusBadRequest, "model.post.is_valid.msg.app_error", "Invalid Message: picture "+strconv.Quote(m[1])+" is not an http(s) URL")
			return false
		}
	}
	if n := utf8.RuneCountInString(msg); n > MattermostMaxRunes {
		mmError(w, http.StatusBadRequest, "model.post.is_valid.msg.app_error", "Invalid Message: "+strconv.Itoa(n)+" characters")
		return false
	}
	return true
}

func (m *Mattermost) createPost(w http.ResponseWriter, r *http.Request) {
	var p Post
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.ID != "" {
		mmError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.")
		return
	}
	if !m.channel(p.ChannelID) {
		mmError(w, http.StatusForbidden, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	}
	if m.find(p.ChannelID).deleted {
		mmError(w, http.StatusForbidden, "api.post.create_post.can_not_post_to_deleted.error", "Can not post to deleted channel.")
		return
	}
	if !checkMessage(w, p.Message) {
		return
	}
	if p.RootID != "" {
		root, ok := m.posts[p.RootID]
		if !ok || root.ChannelID != p.ChannelID || root.RootID != "" {
			mmError(w, http.StatusBadRequest, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.")
			return
		}
	}
	p.ID = m.newID("p")
	m.posts[p.ID] = &p
	m.order = append(m.order, p.ID)
	writeJSON(w, http.StatusCreated, p)
}

func (m *Mattermost) patchPost(w http.ResponseWriter, r *http.Request, id string) {
	p, ok := m.posts[id]
	if !ok {
		mmError(w, http.StatusNotFound, "app.post.get.app_error", "Unable to get the post.")
		return
	}
	var patch struct {
		Message *string `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil || patch.Message == nil {
		mmError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing patch in request body.")
		return
	}
	if !checkMessage(w, *patch.Message) {
		return
	}
	p.Message = *patch.Message
	m.patches = append(m.patches, Patch{id, *patch.Message})
	writeJSON(w, http.StatusOK, p)
}

func (m *Mattermost) channelPosts(w http.ResponseWriter, r *http.Request, id string) {
	if !m.channel(id) {
		mmError(w, http.StatusForbidden, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	}
	perPage, err := strconv.Atoi(cmp(r.URL.Query().Get("per_page"), "60"))
	if err != nil || perPage < 1 || perPage > 200 {
		mmError(w, http.StatusBadRequest, "api.context.invalid_url_param.app_error", "Invalid per_page parameter.")
		return
	}
	out := struct {
		Order []string         `json:"order"`
		Posts map[string]*Post `json:"posts"`
	}{Posts: map[string]*Post{}}
	for i := len(m.order) - 1; i >= 0 && len(out.Order) < perPage; i-- {
		if p := m.posts[m.order[i]]; p.ChannelID == id {
			out.Order = append(out.Order, p.ID)
			out.Posts[p.ID] = p
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (m *Mattermost) serveHook(w http.ResponseWriter, r *http.Request, key string) {
	if r.Method != http.MethodPost || key != m.hookKey {
		mmError(w, http.StatusBadRequest, "web.incoming_webhook.invalid.app_error", "Invalid webhook.")
		return
	}
	var h HookMessage
	if err := json.NewDecoder(r.Body).Decode(&h); err != nil {
		mmError(w, http.StatusBadRequest, "api.webhook.incoming.decode.app_error", "Unable to parse incoming data.")
		return
	}
	if h.Text == "" {
		mmError(w, http.StatusBadRequest, "web.incoming_webhook.text.app_error", "No text specified.")
		return
	}
	// Mattermost would split a longer text into several posts; the fake refuses it, since a
	// sink that lets that happen has lost its truncation.
	if n := utf8.RuneCountInString(h.Text); n > MattermostMaxRunes {
		mmError(w, http.StatusBadRequest, "web.incoming_webhook.text.length.app_error", "Text too long: "+strconv.Itoa(n)+" characters")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.Channel != "" && !slices.ContainsFunc(m.channels, func(c *mmChannel) bool { return c.name == h.Channel }) {
		mmError(w, http.StatusForbidden, "web.incoming_webhook.channel.app_error", "Couldn't find the channel.")
		return
	}
	m.hooks = append(m.hooks, h)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}

// mdImage is a Markdown picture, ![alt](url), with its URL.
var mdImage = regexp.MustCompile(`!\[(?:[^\]\\]|\\.)*\]\(([^)\s]*)`)

func cmp(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
