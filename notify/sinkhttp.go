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
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/triaged/triaged"
)

// Bounds of the HTTP side of the Mattermost, Teams and webhook sinks.
const (
	// hookTimeout bounds one request when the caller's context has no earlier deadline, so a
	// receiver that accepts the connection and never answers cannot hold a sink forever.
	hookTimeout = 30 * time.Second
	// hookMaxResponse bounds what is read of a response: a post, a page of recent posts, an error.
	hookMaxResponse = 4 << 20
	// hookMaxMessage bounds the service's error message quoted in an error.
	hookMaxMessage = 300
)

// hookClient is one sink's HTTP client. where ("https://chat.example.com") is all that errors and
// logs say of the target: the path of an incoming-webhook URL is its secret.
type hookClient struct {
	hc    *http.Client
	where string
}

func newHookClient(target *url.URL) hookClient {
	return hookClient{hc: &http.Client{Timeout: hookTimeout}, where: target.Scheme + "://" + target.Host}
}

// do sends one request and classifies its outcome as the Sink contract asks: nil for 2xx (with
// the response body); a RetryAfterError for 429 or 503 that say when to come back; a
// PermanentError with the service's message for other 4xx but 408 and 429 (a bad token, a
// missing channel, a payload refused); a plain error, retried with backoff, for the rest. what
// says what was attempted ("post report X").
func (c hookClient) do(ctx context.Context, what, method, target string, hdr http.Header, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s to %s: %w", what, c.where, scrubURLError(err)))
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "triaged")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s to %s: %w", what, c.where, scrubURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, hookMaxResponse))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err != nil {
			return nil, fmt.Errorf("%s to %s: read response: %w", what, c.where, scrubURLError(err))
		}
		return data, nil
	}
	return nil, statusError(fmt.Sprintf("%s to %s", what, c.where), resp, data, time.Now())
}

// hookStatusError is a request the service answered with an error status, for a sink that acts
// on one status in particular (Mattermost: the root post is gone).
type hookStatusError struct {
	code int
	msg  string
	id   string // the service's id of the error, where it gives one (Mattermost's AppError.id)
}

func (e *hookStatusError) Error() string { return e.msg }

// hookStatus returns the HTTP status err carries, or 0.
func hookStatus(err error) int {
	var se *hookStatusError
	if errors.As(err, &se) {
		return se.code
	}
	return 0
}

// hookErrorID returns the service's id of the error err carries, or "".
func hookErrorID(err error) string {
	var se *hookStatusError
	if errors.As(err, &se) {
		return se.id
	}
	return ""
}

// statusError turns a refused request into the error that tells the outbox how to go on.
func statusError(what string, resp *http.Response, body []byte, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &hookStatusError{code: resp.StatusCode, msg: fmt.Sprintf("%s: %s", what, resp.Status)}
	if msg := serviceMessage(body); msg != "" {
		se.msg = fmt.Sprintf("%s: %s: %s", what, resp.Status, msg)
	}
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &v) == nil {
		se.id = v.ID
	}
	var err error = se
	code := resp.StatusCode
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		if after, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			return &RetryAfterError{After: after, Err: err}
		}
	}
	if code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests {
		return Permanent(err)
	}
	return err
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// serviceMessage finds the service's own words in an error body: Mattermost's {"message": …},
// Power Automate's {"error": {"message": …}}, {"error": "…"}, or the text itself; one line, cut
// to hookMaxMessage runes.
func serviceMessage(body []byte) string {
	var v struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &v) == nil {
		msg = v.Message
		var nested struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		var s string
		switch {
		case msg != "":
		case json.Unmarshal(v.Error, &nested) == nil && nested.Message != "":
			msg = strings.TrimSpace(nested.Code + " " + nested.Message)
		case json.Unmarshal(v.Error, &s) == nil:
			msg = s
		}
	} else if utf8.Valid(body) {
		msg = string(body)
	}
	msg = strings.Join(strings.Fields(flatten(msg)), " ")
	return truncate(hookMaxMessage, msg)
}

// scrubURLError drops the URL from a *url.Error, which net/http puts in every transport error:
// an incoming-webhook URL is a secret, and the caller names the host already.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// readSecretFile reads a token, key or incoming-webhook URL from its file: one line, at most
// maxSecretFile bytes; surrounding white space (the newline an editor adds) is not part of it.
// The error names the setting and the file, never the content.
func readSecretFile(field, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s: no file named", field)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("%s: %s is larger than %d bytes; the file holds one line", field, path, maxSecretFile)
	}
	s := strings.TrimSpace(string(data))
	switch {
	case s == "":
		return "", fmt.Errorf("%s: %s is empty", field, path)
	case strings.ContainsAny(s, "\r\n"):
		return "", fmt.Errorf("%s: %s holds more than one line; want the secret alone on one line", field, path)
	}
	return s, nil
}

// parseHookURL checks a service URL: absolute http or https, with a host. what names the setting
// in the error; secret says not to quote the URL itself.
func parseHookURL(what, raw string, secret bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	quoted := fmt.Sprintf(" %q", raw)
	if secret {
		quoted = ""
	}
	if err != nil {
		if secret {
			return nil, fmt.Errorf("%s: not a URL", what)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s%s: not an http or https URL with a host", what, quoted)
	}
	return u, nil
}

// fullReportURL is where the whole report of rep's incident can be read, or "" when triaged's
// external URL is unknown.
func fullReportURL(externalURL string, rep *triaged.Report) string {
	if externalURL == "" || rep == nil || rep.IncidentID == "" {
		return ""
	}
	return strings.TrimSuffix(externalURL, "/") + "/api/v1/incidents/" + url.PathEscape(rep.IncidentID) + "/report.md"
}

// breakAutolinks keeps a chat client from turning untrusted text into a link: a zero-width space
// after the scheme's colon ("https:​//") and inside "www." stops Mattermost's and Teams'
// autolinkers and reads the same. Only for text that is not inside a link or code already.
func breakAutolinks(s string) string {
	if !strings.Contains(s, "://") && !containsFold(s, "www.") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 6)
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		switch {
		case s[i] == ':' && strings.HasPrefix(s[i+1:], "//"):
			b.WriteString("\u200b")
		case i+3 < len(s) && (s[i] == 'w' || s[i] == 'W') && strings.EqualFold(s[i:i+4], "www.") &&
			(i == 0 || !isASCIIAlnum(s[i-1])):
			b.WriteString(s[i+1 : i+3])
			b.WriteString("\u200b")
			i += 2
		}
	}
	return b.String()
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), sub)
}

// readTokenFile reads a bot token: a secret file whose one line has no white space, which no
// token of a chat service has (a space means the file holds something else).
func readTokenFile(field, path string) (string, error) {
	tok, err := readSecretFile(field, path)
	if err == nil && strings.ContainsAny(tok, " \t") {
		return "", fmt.Errorf("%s: %s holds white space; want the token alone on one line", field, path)
	}
	return tok, err
}
