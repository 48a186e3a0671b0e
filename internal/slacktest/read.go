package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// read answers conversations.history (top-level messages, newest first) and
// conversations.replies (the root, then its replies, oldest first), from oldest on, at most
// limit; metadata only with include_all_metadata.
func (s *Server) read(w http.ResponseWriter, method string, form url.Values) {
	c := s.channelFor(w, form.Get("channel"), true)
	if c == nil {
		return
	}
	if method == "chat.getPermalink" {
		m := c.find(form.Get("message_ts"))
		if m == nil {
			refuse(w, "message_not_found")
			return
		}
		reply(w, map[string]any{"ok": true, "channel": c.id, "permalink": s.Permalink(c.id, m.TS)})
		return
	}
	limit, _ := strconv.Atoi(form.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	oldest, _ := strconv.ParseFloat(cmp(form.Get("oldest"), "0"), 64)
	withMeta := form.Get("include_all_metadata") == "true" || form.Get("include_all_metadata") == "1"
	var picked []*stored
	if method == "conversations.history" {
		for i := len(c.msgs) - 1; i >= 0; i-- {
			if c.msgs[i].ThreadTS == "" {
				picked = append(picked, c.msgs[i])
			}
		}
	} else {
		root := c.find(form.Get("ts"))
		if root == nil {
			refuse(w, "thread_not_found")
			return
		}
		picked = append(picked, root)
		for _, m := range c.msgs {
			if m.ThreadTS == root.TS {
				picked = append(picked, m)
			}
		}
	}
	out := []map[string]any{}
	for _, m := range picked {
		if ts, _ := strconv.ParseFloat(m.TS, 64); ts < oldest || len(out) == limit {
			continue
		}
		msg := map[string]any{"ts": m.TS, "text": m.Text}
		if m.ThreadTS != "" {
			msg["thread_ts"] = m.ThreadTS
		}
		if withMeta && m.Metadata != nil {
			msg["metadata"] = m.Metadata
		}
		out = append(out, msg)
	}
	reply(w, map[string]any{"ok": true, "messages": out, "has_more": false})
}

// webhook is an incoming webhook of the named channel: it answers "ok" as text/plain, or a
// status with Slack's error text (invalid_payload, no_text, …).
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure(w, "webhook", false) {
		return
	}
	c := s.lookup(r.PathValue("channel"))
	if c == nil {
		http.Error(w, "channel_not_found", http.StatusNotFound)
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var m Message
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); ct != "application/json" || err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if code := check(m); code != "" {
		http.Error(w, code, http.StatusBadRequest)
		return
	}
	if m.Channel != "" || m.ThreadTS != "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest) // an incoming webhook has its channel
		return
	}
	s.seq++
	ts := fmt.Sprintf("%d.%06d", s.epoch+int64(s.seq), s.seq)
	c.msgs = append(c.msgs, &stored{Message: m, TS: ts})
	s.accepted = append(s.accepted, Call{Method: "webhook", Channel: c.id, TS: ts, Message: m})
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
}

// Permalink is the link chat.getPermalink gives for a message.
func (s *Server) Permalink(channelID, ts string) string {
	return s.URL + "/archives/" + channelID + "/p" + strings.ReplaceAll(ts, ".", "")
}

// Roots are the top-level messages of a channel (by name or ID), as they stand now.
func (s *Server) Roots(name string) []Message {
	return s.messages(name, func(m *stored) bool { return m.ThreadTS == "" })
}

// Replies are the replies in the thread of root ts, oldest first.
func (s *Server) Replies(name, ts string) []Message {
	return s.messages(name, func(m *stored) bool { return m.ThreadTS == ts })
}

func (s *Server) messages(name string, keep func(*stored) bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	if c := s.lookup(name); c != nil {
		for _, m := range c.msgs {
			if keep(m) {
				msg := m.Message
				msg.TS = m.TS
				out = append(out, msg)
			}
		}
	}
	return out
}
