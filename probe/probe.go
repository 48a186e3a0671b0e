package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/fielderr"
	"github.com/triaged/triaged/internal/target"
	"github.com/triaged/triaged/redact"
)

// Defaults and limits; the package documentation explains each.
const (
	DefaultTimeout   = 5 * time.Second
	MaxRedirects     = 3
	MaxBodyBytes     = 64 << 10 // read for body_regexp; the rest of a body is discarded
	BodyExcerptBytes = 512      // of a failed probe's body, after redaction
)

// Spec is one health check as the config writes it: exactly one of HTTP or TCP.
type Spec struct {
	// Name labels the result; it defaults to the URL or address as written.
	Name string    `yaml:"name,omitempty"`
	HTTP *HTTPSpec `yaml:"http,omitempty"`
	TCP  *TCPSpec  `yaml:"tcp,omitempty"`
}

// HTTPSpec is an HTTP(S) request whose answer must have an expected status.
type HTTPSpec struct {
	// URL is an http:// or https:// URL, or a template over alert labels
	// ("http://{{ .Labels.instance }}/healthz"), which needs Allow.
	URL string `yaml:"url"`
	// Allow is the pattern the filled URL must match whole; required when URL is a template.
	Allow string `yaml:"allow,omitempty"`
	// Method is GET (the default) or HEAD: a probe must not change the service it looks at.
	Method string `yaml:"method,omitempty"`
	// Headers are sent as given (a "Host" entry sets the request's host). Values are literals,
	// never templates, and never appear in results.
	Headers map[string]string `yaml:"headers,omitempty"`
	// ExpectStatus lists the status codes that count as healthy; empty means 200-299.
	ExpectStatus []int `yaml:"expect_status,omitempty"`
	// BodyRegexp, when set, must match the first 64 KiB of the body.
	BodyRegexp string `yaml:"body_regexp,omitempty"`
	// Timeout bounds the whole probe, redirects and body included; default 5s.
	Timeout confval.Duration `yaml:"timeout,omitempty"`
	// InsecureSkipVerify accepts any TLS certificate. Verification is on by default.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty"`
}

// TCPSpec is a TCP connect that must succeed.
type TCPSpec struct {
	// Address is host:port, or a template over alert labels, which needs Allow.
	Address string `yaml:"address"`
	// Allow is the pattern the filled address must match whole; required when Address is a template.
	Allow   string           `yaml:"allow,omitempty"`
	Timeout confval.Duration `yaml:"timeout,omitempty"`
}

// FieldError is a problem at one field of a Spec; Field is relative to the spec ("http.url").
type FieldError = fielderr.Error

// Compiled is a validated Spec, ready to run any number of times, concurrently.
type Compiled struct {
	name string
	http *compiledHTTP
	tcp  *compiledTCP
}

type compiledHTTP struct {
	url      *target.Value
	method   string
	headers  http.Header
	host     string
	expect   []int // nil: 200-299
	body     *regexp.Regexp
	timeout  time.Duration
	insecure bool
}

type compiledTCP struct {
	address *target.Value
	timeout time.Duration
}

// Name is the name results carry.
func (c *Compiled) Name() string { return c.name }

// Kind is "http" or "tcp".
func (c *Compiled) Kind() string {
	if c.http != nil {
		return "http"
	}
	return "tcp"
}

// Validate reports every problem of the spec; see Compile.
func (s Spec) Validate() error {
	_, err := Compile(s)
	return err
}

// Compile checks a spec and prepares it to run. Every problem is reported at once, as
// *FieldError values joined with errors.Join; fielderr.List or errors.As take them apart.
func Compile(s Spec) (*Compiled, error) {
	var errs []*FieldError
	bad := func(field, format string, args ...any) { errs = append(errs, fielderr.Errorf(field, format, args...)) }
	c := &Compiled{name: strings.TrimSpace(s.Name)}
	switch {
	case s.HTTP != nil && s.TCP != nil:
		bad("", "a probe has exactly one of http or tcp, not both")
	case s.HTTP != nil:
		c.http = compileHTTP(*s.HTTP, bad)
		if c.name == "" {
			c.name = redactURL(s.HTTP.URL)
		}
	case s.TCP != nil:
		c.tcp = compileTCP(*s.TCP, bad)
		if c.name == "" {
			c.name = s.TCP.Address
		}
	default:
		bad("", "a probe needs one of http or tcp")
	}
	if len(errs) > 0 {
		return nil, fielderr.Join(errs)
	}
	return c, nil
}

func compileHTTP(s HTTPSpec, bad func(field, format string, args ...any)) *compiledHTTP {
	c := &compiledHTTP{timeout: orDefault(s.Timeout.Std(), DefaultTimeout, "http.timeout", bad), insecure: s.InsecureSkipVerify}
	c.url = compileTarget("http.url", "http.allow", s.URL, s.Allow, bad)
	if c.url != nil && !c.url.IsTemplate() {
		if err := checkURL(s.URL); err != nil {
			bad("http.url", "%v", err)
		}
	}
	switch m := strings.ToUpper(s.Method); m {
	case "":
		c.method = http.MethodGet
	case http.MethodGet, http.MethodHead:
		c.method = m
	default:
		bad("http.method", "%q is not allowed: a probe only reads (use GET or HEAD)", s.Method)
	}
	c.headers = http.Header{}
	for _, k := range sortedKeys(s.Headers) {
		v := s.Headers[k]
		switch {
		case !validHeaderName(k):
			bad("http.headers", "%q is not a valid header name", k)
		case strings.ContainsAny(v, "\r\n\x00"):
			bad("http.headers."+k, "value contains a line break or NUL")
		case http.CanonicalHeaderKey(k) == "Host":
			c.host = v
		default:
			c.headers.Add(k, v)
		}
	}
	for i, code := range s.ExpectStatus {
		if code < 100 || code > 599 {
			bad(fmt.Sprintf("http.expect_status[%d]", i), "%d is not an HTTP status code (100-599)", code)
		}
	}
	if len(s.ExpectStatus) > 0 {
		c.expect = slices.Clone(s.ExpectStatus)
	}
	if s.BodyRegexp != "" {
		re, err := regexp.Compile(s.BodyRegexp)
		if err != nil {
			bad("http.body_regexp", "invalid pattern %q: %v", s.BodyRegexp, err)
		}
		c.body = re
	}
	return c
}

func compileTCP(s TCPSpec, bad func(field, format string, args ...any)) *compiledTCP {
	c := &compiledTCP{timeout: orDefault(s.Timeout.Std(), DefaultTimeout, "tcp.timeout", bad)}
	c.address = compileTarget("tcp.address", "tcp.allow", s.Address, s.Allow, bad)
	if c.address != nil && !c.address.IsTemplate() {
		if err := checkAddress(s.Address); err != nil {
			bad("tcp.address", "%v", err)
		}
	}
	return c
}

// compileTarget parses a field that alert labels may fill, with its allow pattern.
func compileTarget(field, allowField, raw, allowRaw string, bad func(field, format string, args ...any)) *target.Value {
	v, errs := target.ParseField(field, allowField, raw, allowRaw)
	for _, e := range errs {
		bad(e.Field, "%s", e.Msg)
	}
	return v
}

func orDefault(d, def time.Duration, field string, bad func(field, format string, args ...any)) time.Duration {
	switch {
	case d < 0:
		bad(field, "must not be negative, got %s", d)
	case d == 0:
		return def
	}
	return d
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %v", redactURL(s), errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q: scheme must be http or https", redactURL(s))
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", redactURL(s))
	}
	return nil
}

// checkAddress accepts host:port with a numeric port.
func checkAddress(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", s, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port must be a number in 1-65535", s)
	}
	return nil
}

// redactURL hides a password given in the URL itself.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

var headerName = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

func validHeaderName(k string) bool { return headerName.MatchString(k) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// transports are shared by every probe, one verifying TLS certificates and one not. Keep-alives
// are off: each probe opens a fresh connection, as a new client would, so a probe cannot pass on a
// connection opened before the service broke. Proxy is nil: a probe looks at the service, not at
// whatever proxy the daemon's environment names.
var transports = [2]*http.Transport{newTransport(false), newTransport(true)}

func newTransport(insecure bool) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}).DialContext,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    30 * time.Second, // backstops; each probe's context has the real timeout
		ResponseHeaderTimeout:  60 * time.Second,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

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
	return res
}

func runTCP(ctx context.Context, c *compiledTCP, labels map[string]string, res *triaged.Probe) {
	addr, err := c.address.Fill(labels)
	if err == nil && c.address.IsTemplate() {
		if cerr := checkAddress(addr); cerr != nil {
			err = &target.RefusedError{Reason: "filled address " + cerr.Error()}
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
	conn, err := (&net.Dialer{KeepAlive: -1}).DialContext(ctx, "tcp", addr)
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
		Transport: transports[boolIndex(c.insecure)],
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
// generic "context deadline exceeded".
func errorText(ctx context.Context, err error) string {
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

func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}
