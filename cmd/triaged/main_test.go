package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/triaged/triaged/internal/testkit"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestFlagsAndStartupErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.token")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "triaged.yml")
	if err := os.WriteFile(bad, []byte("sinks:\n  - name: out\n    type: pager\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"help", []string{"--help"}, 0, "-web.listen-address"},
		{"unknown flag", []string{"--web.listen-adress=:1"}, 2, "flag provided but not defined: -web.listen-adress"},
		{"bad log level", []string{"--log.level=loud"}, 2, "unrecognized log level loud"},
		{"stray argument", []string{"serve"}, 2, `unexpected argument "serve"`},
		{"loopback by default", []string{"--help"}, 0, `(default "localhost:9095")`},
		{"all interfaces without auth", []string{"--web.listen-address=:0", "--storage.path=" + dir}, 1, `--web.listen-address \":0\" reaches beyond this host, and no authentication is configured`},
		{"empty token file", []string{"--web.listen-address=:0", "--storage.path=" + dir, "--web.auth-token-file=" + empty}, 1, "--web.auth-token-file " + empty + ": the file is empty"},
		{"token flag without a file", []string{"--web.auth-token-file="}, 2, "must name a file"},
		{"bad config", []string{"--config.file=" + bad, "--storage.path=" + dir, "--web.listen-address=127.0.0.1:0"}, 1, `sinks[0].type: unknown sink type \"pager\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr lockedBuffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
}

// TestSignals runs the daemon as main would: SIGHUP reloads the rules, SIGTERM shuts down cleanly.
func TestSignals(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var stdout, stderr lockedBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", stderr.String())
		}
	})
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"--web.listen-address=" + addr, "--storage.path=" + t.TempDir()}, &stdout, &stderr)
	}()
	testkit.Eventually(t, 20*time.Second, "the daemon ready", func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if n := strings.Count(stderr.String(), `msg="rules loaded"`); n != 1 {
		t.Fatalf("%d rule loads at start, want 1", n)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "SIGHUP reloads the rules", func() bool {
		return strings.Count(stderr.String(), `msg="rules loaded"`) >= 2
	})
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30s after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopped cleanly") {
		t.Errorf("no clean-stop line in the log:\n%s", stderr.String())
	}
}

// TestSignalWhileWaitingForNATS: SIGINT while the daemon waits for an external NATS that is not
// up exited 1 with "cannot start … context canceled", as if it had failed; it is a clean stop.
func TestSignalWhileWaitingForNATS(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://" + l.Addr().String() // nothing listens there once closed
	l.Close()
	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"--web.listen-address=127.0.0.1:0", "--storage.path=" + t.TempDir(), "--nats.url=" + natsURL}, &stdout, &stderr)
	}()
	testkit.Eventually(t, 10*time.Second, "the daemon waiting for NATS", func() bool {
		return strings.Contains(stderr.String(), "waiting for NATS at "+natsURL)
	})
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit %d after SIGINT while waiting for NATS, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGINT")
	}
	if log := stderr.String(); !strings.Contains(log, "stopped while waiting for NATS at "+natsURL) || strings.Contains(log, "cannot start") {
		t.Errorf("the log does not say it stopped while waiting for NATS, or says it could not start:\n%s", log)
	}
}
