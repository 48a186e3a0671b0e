// Package slacktest is a local Slack for tests: an HTTP server with the Web API methods a sink
// uses (chat.postMessage, chat.update, conversations.history, conversations.replies; for
// incident channels conversations.create, setPurpose, setTopic, invite, list, archive,
// pins.add, users.list, users.lookupByEmail, usergroups.list, auth.test, each needing its
// scope) and incoming webhooks, which checks each request the way Slack does — token, content type,
// required fields, block and text limits, threads and edits of messages that exist, metadata —
// answers errors, 429s and 5xx on demand, and records everything it accepted, so tests assert on
// what a channel would show.
package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// Slack's limits, as the server enforces them.
const (
	MaxBlocks      = 50
	MaxSectionText = 3000
	MaxMessage     = 40000
	// An image block's image_url, alt_text and title
	// (https://api.slack.com/reference/block-kit/blocks#image).
	MaxImageURL   = 3000
	MaxImageAlt   = 2000
	MaxImageTitle = 2000
)

// Block is a block of a message; the server knows sections, context, divider, header and image.
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Elements []Text `json:"elements,omitempty"`
	// An image block's picture (an http(s) URL Slack fetches), its description and title.
	ImageURL string `json:"image_url,omitempty"`
	AltText  string `json:"alt_text,omitempty"`
	Title    *Text  `json:"title,omitempty"`
}

// Text is a text object.
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Metadata is a message's metadata.
type Metadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

// Message is a request body of chat.postMessage, chat.update or an incoming webhook.
type Message struct {
	Channel     string    `json:"channel,omitempty"`
	TS          string    `json:"ts,omitempty"`
	ThreadTS    string    `json:"thread_ts,omitempty"`
	Text        string    `json:"text"`
	Blocks      []Block   `json:"blocks,omitempty"`
	Metadata    *Metadata `json:"metadata,omitempty"`
	LinkNames   *bool     `json:"link_names,omitempty"`
	Parse       string    `json:"parse,omitempty"`
	UnfurlLinks *bool     `json:"unfurl_links,omitempty"`
}

// Call is one request the server accepted: the method ("chat.postMessage", "chat.update",
// "webhook"), the channel's ID, and the message; TS is the message's ts (posted or updated).
type Call struct {
	Method  string
	Channel string
	TS      string
	Message Message
}

// Failure is an answer the server gives instead of handling a request: an HTTP status (429
// with RetryAfter seconds, 500, …) or, with Status 0 or 200, ok:false with Error.
type Failure struct {
	Status     int
	RetryAfter int
	Error      string
	// OnlyReplies makes the failure wait for a chat.postMessage in a thread.
	OnlyReplies bool
}

type stored struct {
	Message
	TS string
}

type channel struct {
	id, name string
	member   bool
	msgs     []*stored // in the order posted

	// Of the channels the app creates or manages.
	topic, purpose, creator string
	archived                bool
	members                 []string
	pins                    []string
}

// Server is the fake Slack. URL()+"/api/" is the Web API base URL.
type Server struct {
	*httptest.Server
	Token string

	mu       sync.Mutex
	channels map[string]*channel // by ID
	accepted []Call
	fail     map[string][]Failure // by method, the next answers
	seq      int
	epoch    int64 // seconds of the first ts: now, so a sink's "the last hours" finds them

	revoked map[string]bool // scopes taken from the app
	users   []User
	groups  map[string][]string // user groups by handle: their users' IDs
	created []string            // names of the channels conversations.create made
}

// New starts a server that accepts token and knows the channels named (their IDs are C0000001,
// C0000002, … in order; the app is a member of each). It stops when the test ends.
func New(t testing.TB, token string, channels ...string) *Server {
	s := &Server{Token: token, epoch: time.Now().Unix(), channels: map[string]*channel{}, fail: map[string][]Failure{},
		revoked: map[string]bool{}, groups: map[string][]string{}}
	for i, name := range channels {
		id := fmt.Sprintf("C%07d", i+1)
		s.channels[id] = &channel{id: id, name: strings.TrimPrefix(name, "#"), member: true, members: []string{BotUserID}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.api)
	mux.HandleFunc("POST /webhook/{channel}", s.webhook)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// APIURL is the base URL of the Web API, for a sink's url.
func (s *Server) APIURL() string { return s.URL + "/api/" }

// WebhookURL is an incoming webhook posting to the named channel.
func (s *Server) WebhookURL(name string) string { return s.URL + "/webhook/" + name }

// ChannelID is the ID of the channel named name.
func (s *Server) ChannelID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookup(name); c != nil {
		return c.id
	}
	return ""
}

// Leave makes the app not a member of the channel: posting there answers not_in_channel.
func (s *Server) Leave(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookup(name)
	c.member = false
	c.members = slices.DeleteFunc(c.members, func(id string) bool { return id == BotUserID })
}

// FailNext makes the next calls of method (or "webhook") answer the failures, in order.
func (s *Server) FailNext(method string, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method] = append(s.fail[method], fs...)
}

// Accepted is every call accepted so far, in order.
func (s *Server) Accepted() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accepted)
}

func (s *Server) lookup(ref string) *channel {
	if c, ok := s.channels[ref]; ok {
		return c
	}
	for _, c := range s.channels {
		if c.name == strings.TrimPrefix(ref, "#") {
			return c
		}
	}
	return nil
}

func reply(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func refuse(w http.ResponseWriter, code string) { reply(w, map[string]any{"ok": false, "error": code}) }

// failure answers the next injected failure of method that applies, if any.
func (s *Server) failure(w http.ResponseWriter, method string, isReply bool) bool {
	q := s.fail[method]
	i := slices.IndexFunc(q, func(f Failure) bool { return !f.OnlyReplies || isReply })
	if i < 0 {
		return false
	}
	f := q[i]
	s.fail[method] = slices.Delete(q, i, i+1)
	switch {
	case f.Status == 0 || f.Status == http.StatusOK:
		refuse(w, f.Error)
	default:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		http.Error(w, cmp(f.Error, http.StatusText(f.Status)), f.Status)
	}
	return true
}

func cmp(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer xoxb-") {
		refuse(w, "not_authed")
		return
	}
	if auth != "Bearer "+s.Token {
		refuse(w, "invalid_auth")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !s.scoped(w, method) {
		return
	}
	switch method {
	case "chat.postMessage", "chat.update":
		if ct != "application/json" {
			refuse(w, "invalid_arguments") // the sinks send JSON; the check keeps them at it
			return
		}
		var m Message
		if err := json.Unmarshal(body, &m); err != nil {
			refuse(w, "invalid_json")
			return
		}
		if s.failure(w, method, m.ThreadTS != "") {
			return
		}
		if method == "chat.update" {
			s.update(w, m)
		} else {
			s.post(w, m)
		}
	case "conversations.history", "conversations.replies", "chat.getPermalink":
		if ct != "application/x-www-form-urlencoded" {
			refuse(w, "invalid_form_data") // Slack's read methods take no JSON
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			refuse(w, "invalid_form_data")
			return
		}
		if s.failure(w, method, false) {
			return
		}
		s.read(w, method, form)
	default:
		if _, known := methodScopes[method]; !known && method != "auth.test" {
			refuse(w, "unknown_method")
			return
		}
		form, err := url.ParseQuery(string(body))
		if ct != "application/x-www-form-urlencoded" || err != nil {
			refuse(w, "invalid_form_data") // the sinks send these methods forms
			return
		}
		if s.failure(w, method, false) {
			return
		}
		s.manage(w, method, form)
	}
}

var eventType = regexp.MustCompile(`^[a-zA-Z0-9_]{1,255}$`)

// check judges a message as Slack does, returning its error code or "".
func check(m Message) string {
	if strings.TrimSpace(m.Text) == "" && len(m.Blocks) == 0 {
		return "no_text"
	}
	if len(m.Blocks) > MaxBlocks {
		return "invalid_blocks"
	}
	total := Len(m.Text)
	for _, b := range m.Blocks {
		switch b.Type {
		case "section", "header":
			if b.Text == nil || b.Text.Text == "" || Len(b.Text.Text) > MaxSectionText ||
				(b.Text.Type != "mrkdwn" && b.Text.Type != "plain_text") {
				return "invalid_blocks"
			}
			total += Len(b.Text.Text)
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				return "invalid_blocks"
			}
			for _, e := range b.Elements {
				total += Len(e.Text)
			}
		case "divider":
		case "image":
			if !validImage(b) {
				return "invalid_blocks"
			}
		default:
			return "invalid_blocks"
		}
	}
	if total > MaxMessage {
		return "msg_too_long"
	}
	if md := m.Metadata; md != nil && (!eventType.MatchString(md.EventType) || md.EventPayload == nil) {
		return "invalid_metadata_format"
	}
	return ""
}

// validImage says whether an image block has what Slack requires: an http(s) image_url Slack
// can fetch, an alt_text, a plain_text title if any, each within its limit.
func validImage(b Block) bool {
	u, err := url.Parse(b.ImageURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || Len(b.ImageURL) > MaxImageURL {
		return false
	}
	if strings.TrimSpace(b.AltText) == "" || Len(b.AltText) > MaxImageAlt || b.Text != nil {
		return false
	}
	return b.Title == nil || b.Title.Type == "plain_text" && b.Title.Text != "" && Len(b.Title.Text) <= MaxImageTitle
}

// Len counts s as Slack's limits do, in UTF-16 code units.
func Len(s string) int { return len(utf16.Encode([]rune(s))) }

func (s *Server) channelFor(w http.ResponseWriter, ref string, byIDOnly bool) *channel {
	if ref == "" {
		refuse(w, "channel_not_found")
		return nil
	}
	c := s.lookup(ref)
	if c == nil || byIDOnly && c.id != ref {
		refuse(w, "channel_not_found")
		return nil
	}
	if !c.member {
		refuse(w, "not_in_channel")
		return nil
	}
	return c
}

func (c *channel) find(ts string) *stored {
	for _, m := range c.msgs {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

func (s *Server) post(w http.ResponseWriter, m Message) {
	c := s.channelFor(w, m.Channel, false)
	if c == nil {
		return
	}
	if c.archived {
		refuse(w, "is_archived")
		return
	}
	if code := check(m); code != "" {
		refuse(w, code)
		return
	}
	if m.ThreadTS != "" {
		if root := c.find(m.ThreadTS); root == nil || root.ThreadTS != "" {
			refuse(w, "thread_not_found")
			return
		}
	}
	s.seq++
	ts := fmt.Sprintf("%d.%06d", s.epoch+int64(s.seq), s.seq)
	c.msgs = append(c.msgs, &stored{Message: m, TS: ts})
	s.accepted = append(s.accepted, Call{Method: "chat.postMessage", Channel: c.id, TS: ts, Message: m})
	reply(w, map[string]any{"ok": true, "channel": c.id, "ts": ts, "message": map[string]any{"ts": ts, "text": m.Text}})
}

func (s *Server) update(w http.ResponseWriter, m Message) {
	c := s.channelFor(w, m.Channel, true) // chat.update takes the channel's ID only
	if c == nil {
		return
	}
	old := c.find(m.TS)
	if m.TS == "" || old == nil {
		refuse(w, "message_not_found")
		return
	}
	if code := check(m); code != "" {
		refuse(w, code)
		return
	}
	m.ThreadTS = old.ThreadTS
	old.Message = m
	s.accepted = append(s.accepted, Call{Method: "chat.update", Channel: c.id, TS: m.TS, Message: m})
	reply(w, map[string]any{"ok": true, "channel": c.id, "ts": m.TS, "text": m.Text})
}
