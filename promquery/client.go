package promquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/internal/confval"
)

// DefaultMaxResponseBytes bounds one answer of the query API: a query that matches far more
// series than a report can show is cut off rather than read into memory whole.
const DefaultMaxResponseBytes = 4 << 20

// HTTPConfig is Prometheus' http_config. Decoding it validates it as Prometheus does, and a
// problem is placed at the http_config key (commoncfg's own decoder says only what is wrong).
type HTTPConfig struct {
	commoncfg.HTTPClientConfig `yaml:",inline"`
}

// UnmarshalYAML decodes and validates the block, placing a problem at its node.
func (h *HTTPConfig) UnmarshalYAML(n *yaml.Node) error {
	var c commoncfg.HTTPClientConfig
	if err := n.Decode(&c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return err
		}
		return &confval.ValueError{Node: n, Msg: err.Error()}
	}
	h.HTTPClientConfig = c
	return nil
}

// Client asks one Prometheus-compatible query API.
type Client struct {
	server   Server
	api      v1.API
	prefixes []string
}

// NewClient returns a client of s; maxBytes bounds one answer (0: DefaultMaxResponseBytes).
// Relative file paths of s.HTTP must have been made absolute (SetDirectory) already.
func NewClient(s Server, maxBytes int64) (*Client, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxResponseBytes
	}
	hcfg := s.HTTP.HTTPClientConfig
	if reflect.DeepEqual(hcfg, commoncfg.HTTPClientConfig{}) {
		// No http_config written (a service's own server): Prometheus' defaults, as when one is.
		hcfg = commoncfg.DefaultHTTPClientConfig
	}
	hc, err := commoncfg.NewClientFromConfig(hcfg, "triaged")
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: http_config: %w", s.URL, err)
	}
	hc.Transport = limitedTransport{next: hc.Transport, max: maxBytes}
	ac, err := api.NewClient(api.Config{Address: s.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", s.URL, err)
	}
	c := &Client{server: s, api: v1.NewAPI(ac)}
	for _, u := range append([]string{s.URL}, s.ExternalURLs...) {
		c.prefixes = append(c.prefixes, strings.TrimRight(u, "/")+"/")
	}
	return c, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.server.URL }

// Generated says whether an alert's generator URL points at this server: it starts with the
// server's URL or one of its external URLs.
func (c *Client) Generated(generatorURL string) bool {
	for _, p := range c.prefixes {
		if strings.HasPrefix(generatorURL, p) {
			return true
		}
	}
	return false
}

// instant evaluates query at ts; the server is told how long it has, so it stops too.
func (c *Client) instant(ctx context.Context, query string, ts time.Time) (model.Value, error) {
	ctx, st := withStatus(ctx)
	v, _, _, err := c.api.Query(ctx, query, ts, timeoutOpt(ctx)...)
	return v, st.wrap(err)
}

func (c *Client) rangeQuery(ctx context.Context, query string, r v1.Range) (model.Value, error) {
	ctx, st := withStatus(ctx)
	v, _, _, err := c.api.QueryRange(ctx, query, r, timeoutOpt(ctx)...)
	return v, st.wrap(err)
}

// status is the HTTP status of a request's (last) response, kept by the transport: the client
// library says it only in words.
type status struct{ code atomic.Int32 }

type statusKey struct{}

func withStatus(ctx context.Context) (context.Context, *status) {
	st := &status{}
	return context.WithValue(ctx, statusKey{}, st), st
}

// wrap makes the library's error of an HTTP status that is not the API's own refusal (400, 422)
// a statusError with the body's message.
func (st *status) wrap(err error) error {
	var apiErr *v1.Error
	code := int(st.code.Load())
	if err == nil || !errors.As(err, &apiErr) || code/100 == 2 || code == 0 || code == http.StatusBadRequest || code == http.StatusUnprocessableEntity {
		return err
	}
	return &statusError{code: code, detail: apiErr.Detail, err: err}
}

// statusError is an answer with an HTTP status other than the API's: a proxy's 502, an
// overloaded server's 503, a 500.
type statusError struct {
	code   int
	detail string
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// timeoutOpt tells the server the time left. The client sends it as Go writes a duration, which
// Prometheus 2.x refuses unless it is whole in its unit ("5s", "800ms", not "4.9995s"), so it is
// cut to whole seconds, or whole milliseconds under a second.
func timeoutOpt(ctx context.Context) []v1.Option {
	d, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	left := time.Until(d)
	if left >= time.Second {
		left = left.Truncate(time.Second)
	} else {
		left = left.Truncate(time.Millisecond)
	}
	if left <= 0 {
		return nil
	}
	return []v1.Option{v1.WithTimeout(left)}
}

// errTooLarge is an answer over the size bound.
type errTooLarge struct{ max int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("the answer is larger than %d bytes (prometheus.max_response_bytes): narrow the query (sum by, topk)", e.max)
}

// limitedTransport fails the reading of a response body past max bytes.
type limitedTransport struct {
	next http.RoundTripper
	max  int64
}

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if st, ok := r.Context().Value(statusKey{}).(*status); ok {
		st.code.Store(int32(resp.StatusCode))
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left, max int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells an answer of exactly max bytes from a longer one.
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, errTooLarge{b.max}
		}
		return b.ReadCloser.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// describe says why a query gave nothing, in words a responder reads in the report, and the
// outcome it counts as.
func describe(ctx context.Context, err error, budget time.Duration) (string, string) {
	var tooLarge errTooLarge
	var stErr *statusError
	var apiErr *v1.Error
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return fmt.Sprintf("no answer within %s", budget.Round(time.Millisecond)), OutcomeTimeout
	case errors.As(err, &tooLarge):
		return tooLarge.Error(), OutcomeError
	case errors.As(err, &stErr):
		return answered(stErr), OutcomeError
	case errors.As(err, &apiErr):
		return "Prometheus refused the query: " + oneLine(apiErr.Msg, 300), OutcomeError
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer within %s", budget.Round(time.Millisecond)), OutcomeTimeout
	case errors.As(err, &urlErr):
		return "Prometheus could not be reached: " + urlErr.Err.Error(), OutcomeError
	}
	return err.Error(), OutcomeError
}

// answered says what a server answered with an HTTP error: the API's error message when the body
// is the API's JSON, else the body's first few hundred bytes.
func answered(e *statusError) string {
	detail := e.detail
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(detail), &body) == nil && body.Error != "" {
		detail = body.Error
	}
	if detail = oneLine(detail, 300); detail == "" {
		return fmt.Sprintf("Prometheus answered %d", e.code)
	}
	return fmt.Sprintf("Prometheus answered %d: %s", e.code, detail)
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}
