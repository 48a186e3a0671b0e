package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
)

const (
	tokenA = "alertmanager-token-0123456789abcdef"
	tokenB = "ci-deploys-token-fedcba9876543210"
	tokenC = "rotated-token-00112233445566778899"
)

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func send(t *testing.T, method, url, authorization string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readAll(t, resp)
}

// TestBearerTokens guards the three write endpoints with two token files, as during a rotation;
// reads stay open, and a reload picks up a rotated token while refusing the one it replaced.
func TestBearerTokens(t *testing.T) {
	dir := t.TempDir()
	fileA := writeFile(t, filepath.Join(dir, "a.token"), tokenA+"\n") // a trailing newline, as echo writes
	fileB := writeFile(t, filepath.Join(dir, "b.token"), tokenB)
	r := start(t, app.Options{AuthTokenFiles: []string{fileA, fileB}})
	webhook, err := os.ReadFile("../testdata/alertmanager/firing-1-alert.json")
	if err != nil {
		t.Fatal(err)
	}
	deployEvent := []byte(`{"service":"checkout","version":"v1"}`)

	tests := []struct {
		name, method, path, auth string
		body                     []byte
		code                     int
		challenge, msg           string // of a 401
	}{
		{"webhook, first token", "POST", "/api/v1/alerts", "Bearer " + tokenA, webhook, 200, "", ""},
		{"webhook, second token", "POST", "/api/v1/alerts", "Bearer " + tokenB, webhook, 200, "", ""},
		{"webhook, scheme in lower case", "POST", "/api/v1/alerts", "bearer " + tokenA, webhook, 200, "", ""},
		{"webhook, no token", "POST", "/api/v1/alerts", "", webhook, 401, `Bearer realm="triaged"`, `/api/v1/alerts needs an "Authorization: Bearer TOKEN" header`},
		{"webhook, wrong token", "POST", "/api/v1/alerts", "Bearer " + tokenA + "x", webhook, 401, `Bearer realm="triaged", error="invalid_token"`, "the bearer token is not accepted"},
		{"webhook, a prefix of a token", "POST", "/api/v1/alerts", "Bearer " + tokenA[:20], webhook, 401, `error="invalid_token"`, "not accepted"},
		{"webhook, basic auth", "POST", "/api/v1/alerts", "Basic YWxpY2U6c2VjcmV0", webhook, 401, `Bearer realm="triaged"`, "the request had none"},
		{"webhook, empty bearer", "POST", "/api/v1/alerts", "Bearer ", webhook, 401, `Bearer realm="triaged"`, "the request had none"},
		{"deploy, token", "POST", "/api/v1/deploys", "Bearer " + tokenB, deployEvent, 201, "", ""},
		{"deploy, no token", "POST", "/api/v1/deploys", "", deployEvent, 401, `Bearer realm="triaged"`, "/api/v1/deploys needs"},
		{"reload, token", "POST", "/-/reload", "Bearer " + tokenA, nil, 200, "", ""},
		{"reload, wrong token", "POST", "/-/reload", "Bearer " + tokenC, nil, 401, `error="invalid_token"`, "not accepted by /-/reload"},
		{"metrics, no token", "GET", "/metrics", "", nil, 200, "", ""},
		{"ready, no token", "GET", "/-/ready", "", nil, 200, "", ""},
		{"incidents, no token", "GET", "/api/v1/incidents", "", nil, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, tt.method, r.url+tt.path, tt.auth, tt.body)
			if resp.StatusCode != tt.code {
				t.Fatalf("%d %q, want %d", resp.StatusCode, body, tt.code)
			}
			if tt.code != 401 {
				return
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, tt.challenge) {
				t.Errorf("WWW-Authenticate %q, want %q in it", got, tt.challenge)
			}
			if !strings.Contains(body, tt.msg) {
				t.Errorf("body %q lacks %q", body, tt.msg)
			}
			if strings.Contains(body, tokenA) || strings.Contains(body, tokenB) {
				t.Errorf("the refusal shows a token: %q", body)
			}
		})
	}
	reg := r.app.Registry()
	if got := metrictest.Value(t, reg, "triaged_http_unauthorized_requests_total", "handler", "/api/v1/alerts", "reason", "missing"); got != 3 {
		t.Errorf("missing on /api/v1/alerts counted %v, want 3", got)
	}
	if got := metrictest.Value(t, reg, "triaged_http_unauthorized_requests_total", "reason", "invalid"); got != 3 {
		t.Errorf("invalid counted %v, want 3", got)
	}

	// Rotation: the first file gets a new token, a reload makes it the accepted one.
	writeFile(t, fileA, tokenC+"\n")
	if resp, body := send(t, "POST", r.url+"/-/reload", "Bearer "+tokenB, nil); resp.StatusCode != 200 {
		t.Fatalf("reload: %d %q", resp.StatusCode, body)
	}
	for auth, want := range map[string]int{tokenA: 401, tokenB: 200, tokenC: 200} {
		if resp, body := send(t, "POST", r.url+"/api/v1/alerts", "Bearer "+auth, webhook); resp.StatusCode != want {
			t.Errorf("after rotation, token %s…: %d %q, want %d", auth[:8], resp.StatusCode, body, want)
		}
	}

	// A reload that finds an empty file keeps the tokens in force and says which file.
	writeFile(t, fileB, "")
	resp, body := send(t, "POST", r.url+"/-/reload", "Bearer "+tokenC, nil)
	if resp.StatusCode != 500 || !strings.Contains(body, "--web.auth-token-file "+fileB+": the file is empty") || !strings.Contains(body, "previous ones stay in force") {
		t.Fatalf("reload with an empty token file: %d %q", resp.StatusCode, body)
	}
	if resp, body := send(t, "POST", r.url+"/api/v1/alerts", "Bearer "+tokenB, webhook); resp.StatusCode != 200 {
		t.Errorf("after a failed reload the previous token must stay in force: %d %q", resp.StatusCode, body)
	}
}

// TestAuthRefusedAtStart: what cannot work is refused before anything starts, naming the file or
// flag to fix.
func TestAuthRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "good.token"), tokenA)
	empty := writeFile(t, filepath.Join(dir, "empty.token"), "\n")
	short := writeFile(t, filepath.Join(dir, "short.token"), "s3cret")
	twoLines := writeFile(t, filepath.Join(dir, "two.token"), tokenA+"\n"+tokenB+"\n")
	huge := writeFile(t, filepath.Join(dir, "huge.token"), strings.Repeat("x", 5000))
	basic := writeFile(t, filepath.Join(dir, "web.yml"), "basic_auth_users:\n  alice: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\n")
	badWeb := writeFile(t, filepath.Join(dir, "bad-web.yml"), "basic_auth_user: {}\n")
	missing := filepath.Join(dir, "missing.token")

	tests := []struct {
		name string
		o    app.Options
		want string
	}{
		{"empty token file", app.Options{AuthTokenFiles: []string{good, empty}}, "--web.auth-token-file " + empty + ": the file is empty"},
		{"missing token file", app.Options{AuthTokenFiles: []string{missing}}, "--web.auth-token-file: open " + missing + ": no such file"},
		{"short token", app.Options{AuthTokenFiles: []string{short}}, "--web.auth-token-file " + short + ": the token has 6 characters, want at least 16"},
		{"two tokens in one file", app.Options{AuthTokenFiles: []string{twoLines}}, "--web.auth-token-file " + twoLines + ": the token contains white space"},
		{"huge token file", app.Options{AuthTokenFiles: []string{huge}}, "--web.auth-token-file " + huge + ": larger than 4096 bytes"},
		{"tokens and basic auth", app.Options{AuthTokenFiles: []string{good}, WebConfigFile: basic}, "--web.auth-token-file and basic_auth_users of --web.config.file " + basic + " cannot be used together"},
		{"broken web config", app.Options{WebConfigFile: badWeb}, "--web.config.file " + badWeb + ": "},
		{"all interfaces without auth", app.Options{ListenAddress: ":0"}, `--web.listen-address ":0" reaches beyond this host, and no authentication is configured`},
		{"IPv6 any without auth", app.Options{ListenAddress: "[::]:0"}, `--web.listen-address "[::]:0" reaches beyond this host`},
		{"a LAN address without auth", app.Options{ListenAddress: "192.0.2.10:9095"}, "--web.allow-unauthenticated"},
		{"no port", app.Options{ListenAddress: "localhost"}, `--web.listen-address "localhost": address localhost: missing port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			if o.ListenAddress == "" {
				o.ListenAddress = "127.0.0.1:0"
			}
			o.StoragePath = t.TempDir()
			a, err := app.New(context.Background(), o)
			if err == nil {
				_ = a.Run(canceled())
				t.Fatalf("started; want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nlacks %q", err, tt.want)
			}
			if _, statErr := os.Stat(filepath.Join(o.StoragePath, "nats")); statErr == nil {
				t.Errorf("the embedded NATS storage was created before the auth error")
			}
		})
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestUnauthenticatedBeyondLoopback: serving all interfaces without auth takes the explicit
// flag, and says so at start and on every reload.
func TestUnauthenticatedBeyondLoopback(t *testing.T) {
	var log testkit.SyncBuffer
	r := start(t, app.Options{ListenAddress: ":0", AllowUnauthenticated: true, Logger: textLogger(&log)})
	const warning = `level=WARN msg="serving without authentication beyond this host`
	if n := strings.Count(log.String(), warning); n != 1 {
		t.Fatalf("%d warnings at start, want 1:\n%s", n, log.String())
	}
	resp, body := send(t, "POST", r.url+"/-/reload", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %d %q", resp.StatusCode, body)
	}
	if err := r.app.Reload(); err != nil { // as SIGHUP does
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), warning); n != 3 {
		t.Fatalf("%d warnings after two reloads, want 3:\n%s", n, log.String())
	}
}

// TestNoWarningWithAuthOrLoopback: with a token on all interfaces, or without one on loopback,
// nothing is worth a warning.
func TestNoWarningWithAuthOrLoopback(t *testing.T) {
	token := writeFile(t, filepath.Join(t.TempDir(), "token"), tokenA)
	for name, o := range map[string]app.Options{
		"token, all interfaces": {ListenAddress: ":0", AuthTokenFiles: []string{token}},
		"loopback, no auth":     {ListenAddress: "localhost:0", AllowUnauthenticated: true},
	} {
		t.Run(name, func(t *testing.T) {
			var log testkit.SyncBuffer
			o.Logger = textLogger(&log)
			r := start(t, o)
			if err := r.app.Reload(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(log.String(), "without authentication") {
				t.Fatalf("warned:\n%s", log.String())
			}
		})
	}
}

func textLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
