package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// slackAPI is the little of Slack's Web API a sink needs: chat.postMessage, chat.update,
// conversations.history and conversations.replies. It is written here rather than taken from
// github.com/slack-go/slack because that client sends the token and the message as form fields
// (this one sends JSON with the token in an Authorization header, as Slack recommends) and
// hides the HTTP status and Retry-After behind its own error types; four calls are less code
// than the mapping.
type slackAPI struct {
	base  string // ends in "/"
	token string
	hc    *http.Client
}

// slackMaxResponse bounds what is read of one answer: a page of history with its messages'
// blocks stays well under it.
const slackMaxResponse = 8 << 20

// slackTransient are the error codes of an ok:false answer that a retry may mend; every other
// code (channel_not_found, not_in_channel, invalid_auth, token_revoked, msg_too_long,
// invalid_blocks, …) is a PermanentError.
var slackTransient = []string{"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}

// slackHints say what to do about the permanent errors an operator will meet first.
var slackHints = map[string]string{
	"channel_not_found": "check the channel name or ID",
	"not_in_channel":    "invite the app to the channel, or give it the chat:write.public scope",
	"invalid_auth":      "check the token in token_file",
	"not_authed":        "check the token in token_file",
	"token_revoked":     "the token in token_file was revoked",
	"missing_scope":     "add the scope to the Slack app (examples/slack-app-manifest.yml)",
}

type slackResponse struct {
	OK        bool          `json:"ok"`
	Error     string        `json:"error"`
	Needed    string        `json:"needed"`
	Channel   string        `json:"channel"`
	TS        string        `json:"ts"`
	Messages  []slackPosted `json:"messages"`
	HasMore   bool          `json:"has_more"`
	Message   *slackPosted  `json:"message"`
	Permalink string        `json:"permalink"`
}

// slackPosted is a message as conversations.history and conversations.replies return it.
type slackPosted struct {
	TS       string         `json:"ts"`
	ThreadTS string         `json:"thread_ts"`
	Metadata *slackMetadata `json:"metadata"`
}

// post sends a chat.* method's JSON body.
func (c *slackAPI) post(ctx context.Context, method string, m slackMessage) (*slackResponse, error) {
	body, err := encodeSlack(m)
	if err != nil {
		return nil, fmt.Errorf("slack %s: %w", method, err)
	}
	return c.do(ctx, method, "application/json; charset=utf-8", body)
}

// read calls a conversations.* method, which Slack takes only as a form.
func (c *slackAPI) read(ctx context.Context, method string, form url.Values) (*slackResponse, error) {
	return c.do(ctx, method, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

func (c *slackAPI) do(ctx context.Context, method, contentType string, body []byte) (*slackResponse, error) {
	data, err := c.send(ctx, method, contentType, body)
	if err != nil {
		return nil, err
	}
	var out slackResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("slack %s: answer is not JSON: %w", method, err)
	}
	return &out, slackRefusal(method, out.OK, out.Error, out.Needed)
}

// send posts one call and returns Slack's answer, or the error of an HTTP status that is not
// 2xx.
func (c *slackAPI) send(ctx context.Context, method, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+method, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("slack %s: %w", method, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("slack %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, slackMaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("slack %s: read the answer: %w", method, err)
	}
	if err := statusError("slack "+method, resp, data, time.Now()); err != nil {
		return nil, err
	}
	if len(data) > slackMaxResponse {
		return nil, fmt.Errorf("slack %s: answer larger than %d bytes", method, slackMaxResponse)
	}
	return data, nil
}

// slackRefusal is the error of an ok:false answer, nil for ok:true: transient for the codes a
// retry may mend, else a PermanentError; missing_scope is also a missingScopeError naming the
// scope Slack says is needed.
func slackRefusal(method string, ok bool, code, needed string) error {
	if ok {
		return nil
	}
	msg := fmt.Sprintf("slack %s: %s", method, cmpOr(code, "ok:false without an error code"))
	if needed != "" {
		msg += " (needs " + needed + ")"
	}
	if hint := slackHints[code]; hint != "" {
		msg += ": " + hint
	}
	if slices.Contains(slackTransient, code) {
		return errors.New(msg)
	}
	err := Permanent(&slackCodeError{code: code, msg: msg})
	if code == "missing_scope" {
		return Permanent(&missingScopeError{Scope: needed, Err: &slackCodeError{code: code, msg: msg}})
	}
	return err
}

// slackCodeError is an ok:false answer, with Slack's error code.
type slackCodeError struct{ code, msg string }

func (e *slackCodeError) Error() string { return e.msg }

// slackCode is the error code of a refusal, "" for other errors.
func slackCode(err error) string {
	var e *slackCodeError
	if errors.As(err, &e) {
		return e.code
	}
	return ""
}

// find looks for a message of triaged's among the channel's recent messages (thread "") or the
// replies of one thread, by its metadata: event type and report or incident id. It reads one
// page, the messages of the last slackLookBack, at most slackLookupLimit of them.
func (c *slackAPI) find(ctx context.Context, channel, thread, event, key, value string) (string, error) {
	form := url.Values{
		"channel":              {channel},
		"limit":                {strconv.Itoa(slackLookupLimit)},
		"include_all_metadata": {"true"},
		"oldest":               {fmt.Sprintf("%d.000000", time.Now().Add(-slackLookBack).Unix())},
	}
	method := "conversations.history"
	if thread != "" {
		method = "conversations.replies"
		form.Set("ts", thread)
	}
	resp, err := c.read(ctx, method, form)
	if err != nil {
		return "", err
	}
	for _, m := range resp.Messages {
		if m.Metadata != nil && m.Metadata.EventType == event && m.Metadata.EventPayload[key] == value {
			return m.TS, nil
		}
	}
	return "", nil
}

// How far back a sink looks for a message it may have posted (Delivery.MaybePosted): a
// redelivery after a crash comes within minutes, and one page of a busy channel's last hours.
const (
	slackLookupLimit = 200
	slackLookBack    = 6 * time.Hour
)

// permalink is the root message's link for the incidents API, or "" when Slack gives none: a
// failure here costs the link, not the delivery.
func (c *slackAPI) permalink(ctx context.Context, channel, ts string) string {
	resp, err := c.read(ctx, "chat.getPermalink", url.Values{"channel": {channel}, "message_ts": {ts}})
	if err != nil || checkHTTPURL(resp.Permalink) != nil {
		return ""
	}
	return resp.Permalink
}

// encodeSlack is m's JSON without HTML escaping: "<URL|text>" stays as written, which keeps
// payloads (and their golden files) readable; JSON means the same either way.
func encodeSlack(m slackMessage) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
