package probe

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/fielderr"
	"github.com/triaged/triaged/internal/target"
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
	// AllowNetworks, when set, lists the networks (CIDR prefixes or addresses) the probe may
	// connect to, checked on the resolved address of every connection, redirects included.
	AllowNetworks []string `yaml:"allow_networks,omitempty"`
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
	Allow string `yaml:"allow,omitempty"`
	// AllowNetworks is as for HTTP: the networks the resolved address must be in.
	AllowNetworks []string         `yaml:"allow_networks,omitempty"`
	Timeout       confval.Duration `yaml:"timeout,omitempty"`
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
	// transport is shared by every probe without allow_networks (one verifying TLS, one not),
	// and the probe's own with them.
	transport *http.Transport
}

type compiledTCP struct {
	address *target.Value
	timeout time.Duration
	dialer  *net.Dialer
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
	if n := compileNetworks("http.allow_networks", s.AllowNetworks, bad); n != nil {
		c.transport = newTransport(c.insecure, n)
	} else {
		c.transport = transports[boolIndex(c.insecure)]
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
	c.dialer = dialer(compileNetworks("tcp.allow_networks", s.AllowNetworks, bad))
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
