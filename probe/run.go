package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/target"
	"github.com/triaged/triaged/redact"
)

// transports are shared by every probe without allow_networks, one verifying TLS certificates
// and one not.
var transports = [2]*http.Transport{newTransport(false, nil), newTransport(true, nil)}

// Run performs the check for an alert's labels and returns its result; it never panics and
// never returns without a result. Text that comes back from the target (the body, error
// messages) passes through r; a nil r applies the built-in patterns.
func Run(ctx context.Context, c *Compiled, labels map[string]string, r *redact.Redactor) triaged.Probe {
	res := triaged.Probe{Name: c.name, Kind: c.Kind()}
	if c.http != nil {
		res.Target = c.http.url.String()
		runHTTP(ctx, c.http, labels, r, &res)
	} else {
		res.Target = c.tcp.address.String()
		runTCP(ctx, c.tcp, labels, &res)
	}
	res.Target = r.String(redactURL(res.Target))
	res.Error = r.String(res.Error)
	// The status line's text is the server's to choose ("401 token abc123 expired"): it is
	// redacted like the body, and kept to a status line's length.
	res.Status = statusText(res.Status, r)
	return res
}

func runTCP(ctx context.Context, c *compiledTCP, labels map[string]string, res *triaged.Probe) {
	addr, err := c.address.Fill(labels)
	if err == nil && c.address.IsTemplate() {
		if cerr := checkAddress(addr); cerr != nil {
			err = &target.RefusedError{Reason: "filled address " + cerr.Error()}
		} else if herr := checkFilledHost(addr); herr != nil {
			err = &target.RefusedError{Reason: fmt.Sprintf("filled address %q: %v", addr, herr)}
		}
	}
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Target = addr
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, fmt.Errorf("timed out after %s", c.timeout))
	defer cancel()
	start := time.Now()
	conn, err := c.dialer.DialContext(ctx, "tcp", addr)
	res.LatencyMS = millis(time.Since(start))
	if err != nil {
		res.Error = errorText(ctx, err)
		return
	}
	conn.Close()
	res.OK, res.Status = true, "connected"
}

func runHTTP(ctx context.Context, c *compiledHTTP, labels map[string]string, r *redact.Redactor, res *triaged.Probe) {
	raw, err := c.url.Fill(labels)
	if err == nil && c.url.IsTemplate() {
		if cerr := checkURL(raw); cerr != nil {
			err = &target.RefusedError{Reason: "filled " + cerr.Error()}
		} else {
			err = target.CheckURL(raw)
		}
	}
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Target = raw
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, fmt.Errorf("timed out after %s", c.timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, raw, nil)
	if err != nil {
		res.Error = fmt.Sprintf("building request: %v", err)
		return
	}
	req.Header = c.headers.Clone()
	req.Header.Set("User-Agent", "triaged-probe")
	if c.host != "" {
		req.Host = c.host
	}

	var stopped string // why a redirect was not followed, for the error
	client := &http.Client{
		Transport: c.transport,
		// Redirects are followed on the same host only: a target the allowlist accepted must not
		// bounce the probe to a host it would have refused.
		CheckRedirect: func(next *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				stopped = fmt.Sprintf("stopped after %d redirects", MaxRedirects)
				return http.ErrUseLastResponse
			}
			if !sameOrigin(via[0].URL, next.URL) {
				stopped = fmt.Sprintf("redirect to %s not followed: another host", next.URL.Redacted())
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		res.LatencyMS = millis(time.Since(start))
		res.Error = errorText(ctx, err)
		return
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	resp.Body.Close()
	res.LatencyMS = millis(time.Since(start))
	res.Status = resp.Status
	if res.Status == "" {
		res.Status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}

	var problems []string
	if !c.expected(resp.StatusCode) {
		msg := fmt.Sprintf("unexpected status %d (want %s)", resp.StatusCode, c.expectText())
		if stopped != "" {
			msg += ": " + stopped
		}
		problems = append(problems, msg)
	}
	if readErr != nil {
		problems = append(problems, "reading body: "+errorText(ctx, readErr))
	} else if c.body != nil && !c.body.Match(body) {
		problems = append(problems, fmt.Sprintf("body does not match %q", c.body.String()))
	}
	if len(problems) > 0 {
		res.Error = strings.Join(problems, "; ")
		res.Body = excerpt(body, r)
		return
	}
	res.OK = true
}

// excerpt is the start of a failed probe's body, redacted before it is cut so that a cut cannot
// split a secret out of the pattern that would have found it.
func excerpt(body []byte, r *redact.Redactor) string {
	if len(body) == 0 {
		return ""
	}
	s := r.String(strings.ToValidUTF8(string(body), "\uFFFD"))
	if len(s) <= BodyExcerptBytes {
		return s
	}
	cut := BodyExcerptBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (c *compiledHTTP) expected(code int) bool {
	if c.expect == nil {
		return code >= 200 && code <= 299
	}
	return slices.Contains(c.expect, code)
}

func (c *compiledHTTP) expectText() string {
	if c.expect == nil {
		return "200-299"
	}
	s := make([]string, len(c.expect))
	for i, code := range c.expect {
		s[i] = strconv.Itoa(code)
	}
	return strings.Join(s, ", ")
}

// sameOrigin allows a redirect to the same host and port, or from http to https on the same host
// with default ports (the common "upgrade to TLS" redirect).
func sameOrigin(from, to *url.URL) bool {
	if !strings.EqualFold(from.Hostname(), to.Hostname()) {
		return false
	}
	if from.Scheme == to.Scheme && port(from) == port(to) {
		return true
	}
	return from.Scheme == "http" && to.Scheme == "https" && port(from) == "80" && port(to) == "443"
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// errorText prefers the cause of a cancelled context ("timed out after 2s") to the transport's
// generic "context deadline exceeded", and a refusal by allow_networks to the dial error around it.
func errorText(ctx context.Context, err error) string {
	var refused *target.RefusedError
	if errors.As(err, &refused) {
		return refused.Error()
	}
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				return fmt.Sprintf("%s %s: %v", uerr.Op, uerr.URL, cause)
			}
			return cause.Error()
		}
	}
	return err.Error()
}

// checkFilledHost applies target.CheckHost to the host of a host:port address.
func checkFilledHost(addr string) error {
	host, _, _ := net.SplitHostPort(addr)
	return target.CheckHost(host)
}

// MaxStatusBytes bounds the status text a result keeps; a status line is a code and a few words.
const MaxStatusBytes = 128

// statusText is a status line made safe to show: valid UTF-8, no control characters, redacted,
// then cut to MaxStatusBytes (after redaction, so a cut cannot split a secret from its key).
func statusText(s string, r *redact.Redactor) string {
	s = r.String(strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return -1
		}
		return c
	}, strings.ToValidUTF8(s, "\uFFFD")))
	if len(s) <= MaxStatusBytes {
		return s
	}
	cut := MaxStatusBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}
