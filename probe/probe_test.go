package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/fielderr"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/redact"
)

func mustCompile(t *testing.T, s Spec) *Compiled {
	t.Helper()
	c, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", s, err)
	}
	return c
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want []string // "field: message" substrings, in order
	}{
		{"neither", Spec{Name: "x"}, []string{"a probe needs one of http or tcp"}},
		{"both", Spec{HTTP: &HTTPSpec{URL: "http://a/"}, TCP: &TCPSpec{Address: "a:1"}}, []string{"exactly one of http or tcp"}},
		{"no url", Spec{HTTP: &HTTPSpec{}}, []string{"http.url: required"}},
		{"bad scheme", Spec{HTTP: &HTTPSpec{URL: "ftp://a/"}}, []string{`http.url: URL "ftp://a/": scheme must be http or https`}},
		{"relative url", Spec{HTTP: &HTTPSpec{URL: "/healthz"}}, []string{"http.url: URL \"/healthz\": scheme must be http or https"}},
		{"no host", Spec{HTTP: &HTTPSpec{URL: "http:///x"}}, []string{"http.url: URL \"http:///x\" has no host"}},
		{"template without allow", Spec{HTTP: &HTTPSpec{URL: "http://{{ .Labels.instance }}/healthz"}},
			[]string{`http.url: is a template ("http://{{ .Labels.instance }}/healthz") but no allow pattern is given`}},
		{"allow without template", Spec{HTTP: &HTTPSpec{URL: "http://a/", Allow: "x"}},
			[]string{"http.allow: set, but http.url is not a template"}},
		{"bad allow", Spec{TCP: &TCPSpec{Address: "{{ .Labels.instance }}", Allow: "("}},
			[]string{`tcp.allow: invalid pattern "("`}},
		{"allow matches empty", Spec{TCP: &TCPSpec{Address: "{{ .Labels.instance }}", Allow: ".*"}},
			[]string{`tcp.allow: pattern ".*" matches the empty string`}},
		{"template typo", Spec{HTTP: &HTTPSpec{URL: "http://{{ .Label.instance }}/", Allow: ".+"}},
			[]string{"http.url: template: http.url:1:16: executing \"http.url\" at <.Label.instance>: can't evaluate field Label"}},
		{"method", Spec{HTTP: &HTTPSpec{URL: "http://a/", Method: "DELETE"}}, []string{`http.method: "DELETE" is not allowed`}},
		{"status", Spec{HTTP: &HTTPSpec{URL: "http://a/", ExpectStatus: []int{200, 42}}}, []string{"http.expect_status[1]: 42 is not an HTTP status code"}},
		{"body regexp", Spec{HTTP: &HTTPSpec{URL: "http://a/", BodyRegexp: "[a"}}, []string{`http.body_regexp: invalid pattern "[a"`}},
		{"timeout", Spec{HTTP: &HTTPSpec{URL: "http://a/", Timeout: confval.Duration(-time.Second)}}, []string{"http.timeout: must not be negative, got -1s"}},
		{"header name", Spec{HTTP: &HTTPSpec{URL: "http://a/", Headers: map[string]string{"Bad Name": "x"}}}, []string{`http.headers: "Bad Name" is not a valid header name`}},
		{"header value", Spec{HTTP: &HTTPSpec{URL: "http://a/", Headers: map[string]string{"X-A": "a\r\nX-B: b"}}}, []string{"http.headers.X-A: value contains a line break"}},
		{"tcp no port", Spec{TCP: &TCPSpec{Address: "db"}}, []string{`tcp.address: "db" is not host:port`}},
		{"tcp bad port", Spec{TCP: &TCPSpec{Address: "db:http"}}, []string{`tcp.address: "db:http": port must be a number in 1-65535`}},
		{"tcp no host", Spec{TCP: &TCPSpec{Address: ":5432"}}, []string{`tcp.address: ":5432" has no host`}},
		{"several at once", Spec{HTTP: &HTTPSpec{URL: "ftp://a/", Method: "PUT", Timeout: -1}},
			[]string{"http.timeout", "http.url", "http.method"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.spec)
			if err == nil {
				t.Fatal("no error")
			}
			if c.spec.Validate() == nil {
				t.Error("Validate disagrees with Compile")
			}
			fields := fielderr.List(err)
			if len(fields) < len(c.want) {
				t.Fatalf("got %d errors (%v), want %d", len(fields), err, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(fields[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, fields[i].Error(), w)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("%v is not a *FieldError", err)
			}
		})
	}
}

func TestCompileDefaults(t *testing.T) {
	c := mustCompile(t, Spec{HTTP: &HTTPSpec{URL: "https://app:s3cret@checkout.internal/healthz"}})
	if c.Name() != "https://app:xxxxx@checkout.internal/healthz" || c.Kind() != "http" {
		t.Errorf("name %q kind %q: the default name is the URL without its password", c.Name(), c.Kind())
	}
	if c.http.method != "GET" || c.http.timeout != DefaultTimeout || c.http.expectText() != "200-299" {
		t.Errorf("defaults: %+v", c.http)
	}
	c = mustCompile(t, Spec{TCP: &TCPSpec{Address: "db:5432"}})
	if c.Name() != "db:5432" || c.Kind() != "tcp" || c.tcp.timeout != DefaultTimeout {
		t.Errorf("tcp defaults: %q %q %+v", c.Name(), c.Kind(), c.tcp)
	}
}

// server starts an httptest server that counts its requests.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func TestHTTP(t *testing.T) {
	secretBody := `{"error":"db down","dsn":"postgres://app:hunter2@db:5432/app","password":"hunter2"}`
	long := strings.Repeat("é", 600) // 1200 bytes of two-byte runes
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "ok: all good")
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, secretBody)
		case "/long":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, long)
		case "/headers":
			if r.Host != "checkout.internal" || r.Header.Get("X-Probe") != "yes" || r.Method != http.MethodHead {
				w.WriteHeader(http.StatusBadRequest)
			}
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	cases := []struct {
		name       string
		spec       HTTPSpec
		ok         bool
		status     string
		err        string // substring of Error; "" means none
		body       string // substring of Body
		bodyAbsent string // must not be in Body
	}{
		{name: "200", spec: HTTPSpec{URL: s.URL + "/ok"}, ok: true, status: "200 OK"},
		{name: "503 body redacted", spec: HTTPSpec{URL: s.URL + "/down"}, status: "503 Service Unavailable",
			err: "unexpected status 503 (want 200-299)", body: `"password":"[REDACTED]"`, bodyAbsent: "hunter2"},
		{name: "503 expected", spec: HTTPSpec{URL: s.URL + "/down", ExpectStatus: []int{503}}, ok: true, status: "503 Service Unavailable"},
		{name: "404 listed", spec: HTTPSpec{URL: s.URL + "/nope", ExpectStatus: []int{200, 204}}, status: "404 Not Found",
			err: "unexpected status 404 (want 200, 204)", body: "404 page not found"},
		{name: "body matches", spec: HTTPSpec{URL: s.URL + "/ok", BodyRegexp: `all (good|fine)`}, ok: true, status: "200 OK"},
		{name: "body does not match", spec: HTTPSpec{URL: s.URL + "/ok", BodyRegexp: `^healthy$`}, status: "200 OK",
			err: `body does not match "^healthy$"`, body: "ok: all good"},
		{name: "long body cut", spec: HTTPSpec{URL: s.URL + "/long"}, status: "500 Internal Server Error",
			err: "unexpected status 500", body: strings.Repeat("é", BodyExcerptBytes/2) + "…"},
		{name: "method host and headers", spec: HTTPSpec{URL: s.URL + "/headers", Method: "head",
			Headers: map[string]string{"Host": "checkout.internal", "X-Probe": "yes"}}, ok: true, status: "200 OK"},
		{name: "same-host redirect followed", spec: HTTPSpec{URL: s.URL + "/redirect"}, ok: true, status: "200 OK"},
		{name: "redirect loop stops", spec: HTTPSpec{URL: s.URL + "/loop"}, status: "302 Found",
			err: "unexpected status 302 (want 200-299): stopped after 3 redirects", body: `<a href="/loop">Found</a>`},
		{name: "closed port", spec: HTTPSpec{URL: "http://" + closedAddr(t) + "/"}, err: "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Run(context.Background(), mustCompile(t, Spec{Name: "checkout", HTTP: &c.spec}), nil, nil)
			if p.OK != c.ok || p.Status != c.status || p.Name != "checkout" || p.Kind != "http" {
				t.Errorf("got %+v, want ok=%v status=%q", p, c.ok, c.status)
			}
			if (c.err == "") != (p.Error == "") || !strings.Contains(p.Error, c.err) {
				t.Errorf("Error = %q, want %q", p.Error, c.err)
			}
			if !strings.Contains(p.Body, c.body) || (c.body == "" && p.Body != "") {
				t.Errorf("Body = %q, want %q", p.Body, c.body)
			}
			if c.bodyAbsent != "" && strings.Contains(p.Body, c.bodyAbsent) {
				t.Errorf("Body %q contains %q", p.Body, c.bodyAbsent)
			}
			if len(p.Body) > BodyExcerptBytes+len("…") {
				t.Errorf("Body is %d bytes", len(p.Body))
			}
			if p.LatencyMS <= 0 {
				t.Errorf("LatencyMS = %v", p.LatencyMS)
			}
			if p.Target != c.spec.URL {
				t.Errorf("Target = %q, want %q", p.Target, c.spec.URL)
			}
		})
	}
}

func TestHTTPRedirectToAnotherHostNotFollowed(t *testing.T) {
	other, hits := server(t, func(w http.ResponseWriter, r *http.Request) {})
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	})
	p := Run(context.Background(), mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL}}), nil, nil)
	want := fmt.Sprintf("unexpected status 302 (want 200-299): redirect to %s/steal not followed: another host", other.URL)
	if p.OK || p.Error != want {
		t.Errorf("got ok=%v error %q, want %q", p.OK, p.Error, want)
	}
	if hits.Load() != 0 {
		t.Errorf("the other host got %d requests", hits.Load())
	}
}

func TestHTTPCustomRedactor(t *testing.T) {
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "customer CUST-123456 failed; token=abc")
	})
	r, err := redact.New([]string{`CUST-[0-9]{6}`})
	if err != nil {
		t.Fatal(err)
	}
	p := Run(context.Background(), mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL}}), nil, r)
	if p.Body != "customer [REDACTED] failed; token=[REDACTED]" {
		t.Errorf("Body = %q", p.Body)
	}
}

func TestHTTPTargetPasswordRedacted(t *testing.T) {
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "app" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	url := strings.Replace(s.URL, "http://", "http://app:s3cret@", 1)
	p := Run(context.Background(), mustCompile(t, Spec{HTTP: &HTTPSpec{URL: url}}), nil, nil)
	if !p.OK || strings.Contains(p.Target+p.Name, "s3cret") {
		t.Errorf("got %+v: the probe must pass and show no password", p)
	}
}

func TestHTTPHangingServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release) // before s.Close, which waits for the handler
	cases := []struct {
		name    string
		timeout time.Duration
		parent  time.Duration
		err     string
	}{
		{"probe timeout", 200 * time.Millisecond, time.Minute, "timed out after 200ms"},
		{"parent deadline first", 10 * time.Second, 200 * time.Millisecond, "triage deadline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeoutCause(context.Background(), c.parent, errors.New("triage deadline"))
			defer cancel()
			start := time.Now()
			p := Run(ctx, mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL + "/hang", Timeout: confval.Duration(c.timeout)}}), nil, nil)
			elapsed := time.Since(start)
			if p.OK || !strings.Contains(p.Error, c.err) {
				t.Errorf("got %+v, want an error containing %q", p, c.err)
			}
			if elapsed < 150*time.Millisecond || elapsed > 2*time.Second {
				t.Errorf("returned after %s, want about 200ms", elapsed)
			}
			if p.LatencyMS < 150 {
				t.Errorf("LatencyMS = %v", p.LatencyMS)
			}
		})
	}
}

func TestHTTPSVerification(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	s.StartTLS()
	defer s.Close()
	p := Run(context.Background(), mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL}}), nil, nil)
	if p.OK || !strings.Contains(p.Error, "certificate") {
		t.Errorf("self-signed certificate accepted by default: %+v", p)
	}
	p = Run(context.Background(), mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL, InsecureSkipVerify: true}}), nil, nil)
	if !p.OK || p.Status != "200 OK" {
		t.Errorf("insecure_skip_verify: %+v", p)
	}
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// counter is a TCP listener that counts the connections it accepts, and keeps where they came
// from.
type counter struct {
	net.Listener
	n    atomic.Int64
	mu   sync.Mutex
	from map[string]bool // remote addresses accepted
}

func listen(t *testing.T) *counter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{Listener: l, from: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			// Counted before it is seen: contacted takes the count once it sees its marker.
			c.n.Add(1)
			c.mu.Lock()
			c.from[conn.RemoteAddr().String()] = true
			c.mu.Unlock()
			conn.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return c
}

// acceptedFrom reports whether the listener has accepted a connection from addr.
func (c *counter) acceptedFrom(addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.from[addr]
}

func TestTCP(t *testing.T) {
	l := listen(t)
	p := Run(context.Background(), mustCompile(t, Spec{Name: "db", TCP: &TCPSpec{Address: l.Addr().String()}}), nil, nil)
	if !p.OK || p.Status != "connected" || p.Kind != "tcp" || p.Target != l.Addr().String() || p.Error != "" {
		t.Errorf("open port: %+v", p)
	}
	closed := closedAddr(t)
	p = Run(context.Background(), mustCompile(t, Spec{Name: "db", TCP: &TCPSpec{Address: closed}}), nil, nil)
	if p.OK || p.Status != "" || !strings.Contains(p.Error, "connection refused") {
		t.Errorf("closed port: %+v", p)
	}
	testkit.Eventually(t, 5*time.Second, "the listener accepts the probe's connection", func() bool { return l.n.Load() == 1 })
}

// TestLabelsCannotRedirectProbes is the safety line: an alert label that tries to point a probe
// at another host, or to smuggle in a shell command, is refused and nothing is contacted.
func TestLabelsCannotRedirectProbes(t *testing.T) {
	l := listen(t)
	here := l.Addr().String()
	specs := map[string]Spec{
		"tcp": {Name: "instance", TCP: &TCPSpec{Address: "{{ .Labels.instance }}", Allow: `10\.0\.0\.[0-9]+:8080`}},
		"http": {Name: "health", HTTP: &HTTPSpec{URL: "http://{{ .Labels.instance }}/healthz",
			Allow: `http://10\.0\.0\.[0-9]+:8080/healthz`}},
	}
	hostile := []string{
		"evil.example:80",
		here, // the counting listener itself
		"10.0.0.1:8080@" + here,
		"10.0.0.1:8080.evil.example:80",
		here + "/x?10.0.0.1:8080",
		"10.0.0.1:8080/healthz#" + here,
		"10.0.0.1:8080\n" + here,
		"x; rm -rf /",
		"$(id)",
		"`id`",
		"10.0.0.1:8080 && curl evil.example",
	}
	for kind, spec := range specs {
		c := mustCompile(t, spec)
		for _, instance := range hostile {
			p := Run(context.Background(), c, map[string]string{"instance": instance, "alertname": "Down"}, nil)
			if p.OK || !strings.HasPrefix(p.Error, "target refused: ") || p.Status != "" || p.LatencyMS != 0 {
				t.Errorf("%s, instance=%q: %+v; want refused", kind, instance, p)
			}
		}
		p := Run(context.Background(), c, map[string]string{"alertname": "Down"}, nil)
		if !strings.Contains(p.Error, `target refused: filling template: `) || !strings.Contains(p.Error, `no entry for key "instance"`) {
			t.Errorf("%s, no instance label: %q", kind, p.Error)
		}
	}
	want := `target refused: filled value "evil.example:80" does not match allow pattern "10\\.0\\.0\\.[0-9]+:8080"`
	if p := Run(context.Background(), mustCompile(t, specs["tcp"]), map[string]string{"instance": "evil.example:80"}, nil); p.Error != want {
		t.Errorf("refusal text\n got %q\nwant %q", p.Error, want)
	}
	// The listener accepts connections in the order they were made: once a connection made now
	// is accepted, any refused probe above that had reached it would have been counted.
	marker, err := net.Dial("tcp", here)
	if err != nil {
		t.Fatal(err)
	}
	defer marker.Close()
	testkit.Eventually(t, 5*time.Second, "the listener accepts a marker connection", func() bool { return l.acceptedFrom(marker.LocalAddr().String()) })
	if n := l.n.Load() - 1; n != 0 {
		t.Fatalf("the listener was contacted %d times", n)
	}

	// The control: a pattern that admits the listener lets the same template reach it, so the
	// zero above is the refusal's doing.
	ok := mustCompile(t, Spec{TCP: &TCPSpec{Address: "{{ .Labels.instance }}", Allow: `127\.0\.0\.1:[0-9]+`}})
	if p := Run(context.Background(), ok, map[string]string{"instance": here}, nil); !p.OK || p.Target != here {
		t.Errorf("allowed target: %+v", p)
	}
	testkit.Eventually(t, 5*time.Second, "the listener accepts the allowed probe's connection", func() bool { return l.n.Load() == 2 })
}

func TestFilledURLMustStillBeHTTP(t *testing.T) {
	c := mustCompile(t, Spec{HTTP: &HTTPSpec{URL: "{{ .Labels.u }}", Allow: `[a-z]+://127\.0\.0\.1:[0-9]+/`}})
	p := Run(context.Background(), c, map[string]string{"u": "file://127.0.0.1:1/"}, nil)
	if p.OK || p.Error != `target refused: filled URL "file://127.0.0.1:1/": scheme must be http or https` {
		t.Errorf("got %+v", p)
	}
	c = mustCompile(t, Spec{TCP: &TCPSpec{Address: "{{ .Labels.a }}", Allow: `[0-9.:]+`}})
	if p := Run(context.Background(), c, map[string]string{"a": "127.0.0.1"}, nil); !strings.HasPrefix(p.Error, "target refused: filled address") {
		t.Errorf("got %+v", p)
	}
}

func TestConcurrentRuns(t *testing.T) {
	s, hits := server(t, func(w http.ResponseWriter, r *http.Request) {})
	c := mustCompile(t, Spec{HTTP: &HTTPSpec{URL: "http://{{ .Labels.instance }}/", Allow: `http://127\.0\.0\.1:[0-9]+/`}})
	instance := strings.TrimPrefix(s.URL, "http://")
	var wg sync.WaitGroup
	results := make([]triaged.Probe, 20)
	for i := range results {
		wg.Go(func() { results[i] = Run(context.Background(), c, map[string]string{"instance": instance}, nil) })
	}
	wg.Wait()
	for i, p := range results {
		if !p.OK {
			t.Errorf("run %d: %+v", i, p)
		}
	}
	if hits.Load() != int64(len(results)) {
		t.Errorf("%d requests, want %d", hits.Load(), len(results))
	}
}
