package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/deploy"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/internal/natstest"
)

// triagedServer runs triaged's real deploy handler on a real JetStream server.
func triagedServer(t *testing.T) (*httptest.Server, jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Server(t))
	names := broker.MustNames("triaged")
	s, err := deploy.EnsureStream(context.Background(), js, names, 0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/deploys", deploy.NewHandler(deploy.NewRecorder(js, names, deploy.RecorderOptions{}),
		deploy.HandlerOptions{Registerer: prometheus.NewRegistry(), PublishTimeout: 2 * time.Second}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, js, s
}

// closedURL is the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// TestDeployRecordCLI runs `triagetool deploy record` against triaged's real handler and
// compares exit code and output with golden files. {url} in the arguments is the server's URL,
// printed as http://triaged.test.
func TestDeployRecordCLI(t *testing.T) {
	srv, js, stream := triagedServer(t)
	down := closedURL(t)
	t.Setenv("TRIAGED_URL", "")
	record := []string{"deploy", "record", "--url", "{url}", "--service", "checkout", "--environment", "prod",
		"--version", "v1.2.3", "--commit", "abc123", "--author", "alice", "--link", "https://ci.example/runs/123",
		"--time", "2026-01-15T10:00:00Z"}
	for _, tc := range []struct {
		name string
		args []string
		url  string // what {url} stands for; the test server when empty
	}{
		{"deploy-record", record, ""},
		{"deploy-record-again", record, ""}, // a CI retry: stored once
		{"deploy-record-started", []string{"deploy", "record", "--url={url}/", "--service=payments", "--version=p7", "--status=started", "--time=2026-01-15T10:05:00+01:00"}, ""},
		{"deploy-record-bad-service", []string{"deploy", "record", "--url", "{url}", "--service", "check.out"}, ""},
		{"deploy-record-bad-link", []string{"deploy", "record", "--url", "{url}", "--service", "checkout", "--link", "ftp://ci/1"}, ""},
		{"deploy-record-bad-status", []string{"deploy", "record", "--url", "{url}", "--service", "checkout", "--status", "done"}, ""},
		{"deploy-record-bad-time", []string{"deploy", "record", "--url", "{url}", "--service", "checkout", "--time", "yesterday"}, ""},
		{"deploy-record-future", []string{"deploy", "record", "--url", "{url}", "--service", "checkout", "--time", "2099-01-01T00:00:00Z"}, ""},
		{"deploy-record-no-service", []string{"deploy", "record", "--url", "{url}"}, ""},
		{"deploy-record-extra-arg", []string{"deploy", "record", "--service", "checkout", "prod"}, ""},
		{"deploy-record-down", []string{"deploy", "record", "--url", "{url}", "--service", "checkout", "--retries", "0"}, down},
		{"deploy-record-not-triaged", []string{"deploy", "record", "--url", "{url}/elsewhere", "--service", "checkout", "--retries", "0"}, ""},
		{"deploy-nothing", []string{"deploy"}, ""},
		{"deploy-record-help", []string{"deploy", "record", "-h"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if u == "" {
				u = srv.URL
			}
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "{url}", u)
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			got := fmt.Sprintf("$ triagetool %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tc.args, " "), code, stdout.String(), stderr.String())
			got = strings.ReplaceAll(got, "{url}", "http://triaged.test")
			got = strings.ReplaceAll(got, u, "http://triaged.test")
			got = strings.ReplaceAll(got, strings.TrimPrefix(u, "http://"), "triaged.test")
			golden.Check(t, filepath.Join("testdata", "golden", tc.name+".golden"), []byte(got))
		})
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("stream holds %d events, want 2 (checkout once, payments)", info.State.Msgs)
	}

	// With the stream gone JetStream cannot store: 503, retried, then a failure.
	if err := js.DeleteStream(context.Background(), stream.CachedInfo().Config.Name); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { retryDelay = d }(retryDelay)
	retryDelay = time.Millisecond
	var stdout, stderr bytes.Buffer
	if code := run([]string{"deploy", "record", "--url", srv.URL, "--service", "checkout", "--retries", "1"}, &stdout, &stderr); code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "triaged answered 503 Service Unavailable: persist deploy event: ") ||
		!strings.HasSuffix(lines[0], "; retrying in 1ms") || !strings.HasPrefix(lines[1], "triagetool deploy record: triaged answered 503") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}

// TestDeployRecordRetries: a 503 is retried with the same event, which the stream then stores
// once; $TRIAGED_URL names the server.
func TestDeployRecordRetries(t *testing.T) {
	srv, _, stream := triagedServer(t)
	var calls atomic.Int32
	// The first attempt gets 503; the second is stored but its reply is lost (502); the third
	// finds the event already stored.
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n == 1 {
			http.Error(w, "persist deploy event: timeout", http.StatusServiceUnavailable)
			return
		}
		resp, err := http.Post(srv.URL+r.URL.Path, r.Header.Get("Content-Type"), r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		if n == 2 {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer flaky.Close()
	defer func(d time.Duration) { retryDelay = d }(retryDelay)
	retryDelay = time.Millisecond
	t.Setenv("TRIAGED_URL", flaky.URL)

	var stdout, stderr bytes.Buffer
	if code := run([]string{"deploy", "record", "--service", "checkout", "--version", "v9"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if calls.Load() != 3 {
		t.Errorf("%d attempts, want 3", calls.Load())
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d events after retries, want 1", info.State.Msgs)
	}
	if !strings.Contains(stderr.String(), "already recorded") {
		t.Errorf("stderr does not say the retry found the event stored:\n%s", stderr.String())
	}
}

func TestEndpointURL(t *testing.T) {
	t.Setenv("TRIAGED_URL", "")
	for in, want := range map[string]string{
		"":                                   "http://localhost:9095/api/v1/deploys",
		"http://triaged:9095":                "http://triaged:9095/api/v1/deploys",
		"https://ops.example/triaged/":       "https://ops.example/triaged/api/v1/deploys",
		"http://triaged:9095/api/v1/deploys": "http://triaged:9095/api/v1/deploys",
	} {
		if got := endpointURL(in); got != want {
			t.Errorf("endpointURL(%q) = %q, want %q", in, got, want)
		}
	}
	t.Setenv("TRIAGED_URL", "http://from-env:9095")
	if got := endpointURL(""); got != "http://from-env:9095/api/v1/deploys" {
		t.Errorf("with $TRIAGED_URL: %q", got)
	}
	if got := endpointURL("http://flag:1"); got != "http://flag:1/api/v1/deploys" {
		t.Errorf("--url must win over $TRIAGED_URL: %q", got)
	}
}
