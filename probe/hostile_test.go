package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/internal/testkit"
)

// watched is a counting listener whose count leaves out the marker connections of contacted.
type watched struct {
	*counter
	markers int64
}

// contacted returns how many connections the listener accepted, waiting first until a marker
// connection made now is accepted: connections are accepted in order, so every earlier one that
// reached the listener is counted by then.
func (l *watched) contacted(t *testing.T) int64 {
	t.Helper()
	marker, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer marker.Close()
	testkit.Eventually(t, 5*time.Second, "the listener accepts a marker connection", func() bool { return l.acceptedFrom(marker.LocalAddr().String()) })
	l.markers++
	return l.n.Load() - l.markers
}

// TestFilledHostMustBePlain: a filled value that a lax allow pattern admits is still refused when
// its host is not the plain name or address it reads as — full-width digits that IDNA maps to
// 127.0.0.1, user info in front of the real host, a numeric host in a resolver's other spellings.
func TestFilledHostMustBePlain(t *testing.T) {
	l := &watched{counter: listen(t)}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	lax := map[string]*Compiled{
		// "Any host name on the service's port" is the kind of pattern these get through.
		"http": mustCompile(t, Spec{HTTP: &HTTPSpec{URL: "http://{{ .Labels.instance }}/healthz", Allow: `http://[^/]+:` + port + `/healthz`}}),
		"tcp":  mustCompile(t, Spec{TCP: &TCPSpec{Address: "{{ .Labels.instance }}", Allow: `[^/]+:` + port}}),
	}
	cases := []struct{ kind, instance, err string }{
		{"http", "１２７.０.０.１:" + port, `is not plain ASCII`},
		{"http", "127。0。0。1:" + port, `is not plain ASCII`},
		{"http", "10.0.0.1:8080@127.0.0.1:" + port, `has user info before its host`},
		{"http", "x:y@127.0.0.1:" + port, `"http://x:[REDACTED]@127.0.0.1:` + port + `/healthz" has user info`},
		{"http", "2130706433:" + port, `is a number but not a dotted-quad IPv4 address`},
		{"http", "0x7f.0.0.1:" + port, `is a number but not a dotted-quad IPv4 address`},
		{"http", "[::ffff:127.0.0.1%25lo]:" + port, `escaped or ambiguous host`},
		{"tcp", "１２７.０.０.１:" + port, `is not plain ASCII`},
		{"tcp", "2130706433:" + port, `is a number but not a dotted-quad IPv4 address`},
		{"tcp", "0177.0.0.1:" + port, `is a number but not a dotted-quad IPv4 address`},
	}
	for _, c := range cases {
		p := Run(context.Background(), lax[c.kind], map[string]string{"instance": c.instance}, nil)
		if p.OK || !strings.HasPrefix(p.Error, "target refused: ") || !strings.Contains(p.Error, c.err) || p.LatencyMS != 0 {
			t.Errorf("%s %q: %+v; want refused with %q", c.kind, c.instance, p, c.err)
		}
	}
	if n := l.contacted(t); n != 0 {
		t.Fatalf("the listener was contacted %d times", n)
	}
	// The control: the same patterns let the plain address through.
	for kind, c := range lax {
		if p := Run(context.Background(), c, map[string]string{"instance": "127.0.0.1:" + port}, nil); strings.HasPrefix(p.Error, "target refused") {
			t.Errorf("%s plain address: %+v", kind, p)
		}
	}
	if n := l.contacted(t); n != 2 {
		t.Errorf("the listener was contacted %d times, want 2", n)
	}
}

// TestAllowNetworks: the resolved address of every connection must be in allow_networks. A name
// (localhost) is refused for what it resolves to, not for how it reads.
func TestAllowNetworks(t *testing.T) {
	l := &watched{counter: listen(t)}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	elsewhere := []string{"10.0.0.0/8", "fd00::/8"}
	refused := []struct {
		name string
		spec Spec
		want string
	}{
		{"http literal", Spec{HTTP: &HTTPSpec{URL: "http://127.0.0.1:" + port + "/", AllowNetworks: elsewhere}},
			"target refused: address 127.0.0.1 is not in http.allow_networks [10.0.0.0/8, fd00::/8]"},
		{"http name", Spec{HTTP: &HTTPSpec{URL: "http://localhost:" + port + "/", AllowNetworks: elsewhere}},
			"is not in http.allow_networks [10.0.0.0/8, fd00::/8]"},
		{"http template", Spec{HTTP: &HTTPSpec{URL: "http://{{ .Labels.instance }}/", Allow: `http://[a-z0-9.]+:[0-9]+/`, AllowNetworks: []string{"10.0.0.5"}}},
			"is not in http.allow_networks [10.0.0.5/32]"},
		{"tcp name", Spec{TCP: &TCPSpec{Address: "localhost:" + port, AllowNetworks: elsewhere}},
			"is not in tcp.allow_networks [10.0.0.0/8, fd00::/8]"},
	}
	labels := map[string]string{"instance": "localhost:" + port}
	for _, c := range refused {
		p := Run(context.Background(), mustCompile(t, c.spec), labels, nil)
		if p.OK || !strings.HasPrefix(p.Error, "target refused: address ") || !strings.Contains(p.Error, c.want) {
			t.Errorf("%s: %+v; want %q", c.name, p, c.want)
		}
	}
	if n := l.contacted(t); n != 0 {
		t.Fatalf("the listener was contacted %d times", n)
	}
	inside := []string{"127.0.0.0/8", "::1"}
	for _, s := range []Spec{
		{TCP: &TCPSpec{Address: "127.0.0.1:" + port, AllowNetworks: inside}},
		{TCP: &TCPSpec{Address: "{{ .Labels.instance }}", Allow: `localhost:[0-9]+`, AllowNetworks: inside}},
	} {
		if p := Run(context.Background(), mustCompile(t, s), labels, nil); !p.OK {
			t.Errorf("%+v: %+v", s.TCP, p)
		}
	}
	if n := l.contacted(t); n != 2 {
		t.Errorf("the listener was contacted %d times, want 2", n)
	}
}

func TestAllowNetworksCompileErrors(t *testing.T) {
	_, err := Compile(Spec{HTTP: &HTTPSpec{URL: "http://a/", AllowNetworks: []string{"10.0.0.0/8", "10.0.0.0/33", "fe80::1%eth0", "db.internal"}}})
	want := `http.allow_networks[1]: "10.0.0.0/33" is not a network (10.0.0.0/8, fd00::/8) or an address
http.allow_networks[2]: "fe80::1%eth0" is not a network (10.0.0.0/8, fd00::/8) or an address
http.allow_networks[3]: "db.internal" is not a network (10.0.0.0/8, fd00::/8) or an address`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, err = Compile(Spec{TCP: &TCPSpec{Address: "a:1", AllowNetworks: []string{"x"}}})
	if err == nil || !strings.HasPrefix(err.Error(), `tcp.allow_networks[0]: "x" is not a network`) {
		t.Errorf("tcp: %v", err)
	}
}

// TestHTTPStatusTextRedacted: the text of a status line is the server's to choose, so it is
// redacted, cleaned and bounded like the body.
func TestHTTPStatusTextRedacted(t *testing.T) {
	cases := []struct{ line, want string }{
		{"401 token=abc123 expired", "401 token=[REDACTED] expired"},
		{"500 dial postgres://app:hunter2@db:5432 failed", "500 dial postgres://app:[REDACTED]@db:5432 failed"},
		{"503 \x1b[31mdown\x1b[0m", "503 [31mdown[0m"},
		{"502 " + strings.Repeat("x", 300), "502 " + strings.Repeat("x", MaxStatusBytes-4) + "…"},
	}
	for _, c := range cases {
		s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			fmt.Fprintf(buf, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", c.line)
			buf.Flush()
		})
		p := Run(context.Background(), mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL}}), nil, nil)
		if p.OK || p.Status != c.want {
			t.Errorf("status line %q: Status = %q, want %q", c.line, p.Status, c.want)
		}
	}
}
