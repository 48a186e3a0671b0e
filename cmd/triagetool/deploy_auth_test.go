package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/testkit"
)

// TestDeployRecordWithToken records deploys with a daemon whose write endpoints take bearer
// tokens: the token comes from --token-file or $TRIAGED_TOKEN_FILE, a refusal is not retried
// and prints the daemon's reason.
func TestDeployRecordWithToken(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "deploy.token")
	if err := os.WriteFile(token, []byte("ci-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong.token")
	if err := os.WriteFile(wrong, []byte("not-the-token-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.token")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{ListenAddress: "127.0.0.1:0", StoragePath: t.TempDir(), AuthTokenFiles: []string{token}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	url := "http://" + a.Addr().String()
	testkit.Eventually(t, 10*time.Second, "triaged ready", func() bool {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	tests := []struct {
		name      string
		flags     []string
		env       string // $TRIAGED_TOKEN_FILE
		code      int
		out, errs string
	}{
		{"token file flag", []string{"--token-file", token}, "", exitOK, `"service":"checkout"`, ""},
		{"token file from the environment", nil, token, exitOK, `"service":"checkout"`, "already recorded"},
		{"flag before environment", []string{"--token-file", token}, wrong, exitOK, `"service":"checkout"`, ""},
		{"no token", nil, "", exitFailure, "", `triaged refused the event (401 Unauthorized): 401 Unauthorized: /api/v1/deploys needs an "Authorization: Bearer TOKEN" header`},
		{"wrong token", []string{"--token-file", wrong}, "", exitFailure, "", "the bearer token is not accepted by /api/v1/deploys"},
		{"empty token file", []string{"--token-file", empty}, "", exitFailure, "", "--token-file " + empty + ": the file is empty"},
		{"missing token file", nil, filepath.Join(dir, "nope"), exitFailure, "", "$TRIAGED_TOKEN_FILE: open " + filepath.Join(dir, "nope") + ": no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TRIAGED_TOKEN_FILE", tt.env)
			args := append([]string{"deploy", "record", "--url", url, "--service", "checkout", "--time", "2026-01-15T10:00:00Z", "--retries", "3"}, tt.flags...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.errs) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", &stdout, &stderr, tt.out, tt.errs)
			}
			if strings.Contains(stderr.String(), "retrying") {
				t.Errorf("retried: %s", &stderr)
			}
		})
	}
}
