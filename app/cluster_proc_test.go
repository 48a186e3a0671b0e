package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged/app"

	"github.com/triaged/triaged/internal/natscluster"
	"github.com/triaged/triaged/internal/testkit"
)

// replicaEnv, when set, makes TestReplicaProcess run a triaged replica with the options it holds
// (JSON) until the process is killed: a test re-runs its own test binary so, a process it can
// kill with SIGKILL (and with the race detector if the test has it), without building
// cmd/triaged, whose link alone takes 5 s here.
const replicaEnv = "TRIAGED_TEST_REPLICA"

// replicaOptions are what the replica process is started with.
type replicaOptions struct {
	NATSURL, ConfigFile, ListenAddress, StoragePath string
}

// TestReplicaProcess is no test: it is the replica process startReplicaProcess runs. Reports go
// to standard output, warnings and errors to standard error.
func TestReplicaProcess(t *testing.T) {
	env := os.Getenv(replicaEnv)
	if env == "" {
		t.Skip("the replica process of TestClusterStorm; runs only as one")
	}
	var o replicaOptions
	if err := json.Unmarshal([]byte(env), &o); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", replicaEnv, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(context.Background(), app.Options{
		NATSURL: o.NATSURL, ConfigFile: o.ConfigFile, ListenAddress: o.ListenAddress, StoragePath: o.StoragePath,
		Logger: logger.With("replica", "process"), Stdout: os.Stdout,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "app.New: %v\n", err)
		os.Exit(1)
	}
	err = a.Run(context.Background()) // until killed
	fmt.Fprintf(os.Stderr, "Run: %v\n", err)
	os.Exit(1)
}

// replicaProcess is a triaged replica run as a process of its own, so a test can kill it with
// SIGKILL and start it again on the same address, as a supervisor does.
type replicaProcess struct {
	t    *testing.T
	env  string
	url  string
	logs io.Writer // every life's standard error, warnings and errors only

	mu    sync.Mutex
	proc  *natscluster.Process
	lives []*testkit.SyncBuffer // each life's standard output: the reports its stdout sink printed
}

// startReplicaProcess starts a triaged process on a free loopback port against natsURL with the
// config file cfg, and waits until it is ready. It is killed when the test ends.
func startReplicaProcess(t *testing.T, natsURL, cfg string, logs io.Writer) *replicaProcess {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env, err := json.Marshal(replicaOptions{NATSURL: natsURL, ConfigFile: cfg, ListenAddress: addr, StoragePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := &replicaProcess{t: t, env: string(env), url: "http://" + addr, logs: logs}
	t.Cleanup(r.kill)
	r.startAgain()
	r.waitReady()
	return r
}

// startAgain starts a new life of the replica, without waiting for it to be ready.
func (r *replicaProcess) startAgain() {
	r.t.Helper()
	out := &testkit.SyncBuffer{}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestReplicaProcess$")
	cmd.Env = append(os.Environ(), replicaEnv+"="+r.env)
	cmd.Stdout, cmd.Stderr = out, r.logs
	p, err := natscluster.StartProcess(cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.proc = p
	r.lives = append(r.lives, out)
	r.mu.Unlock()
}

// waitReady waits until the replica's current life is ready.
func (r *replicaProcess) waitReady() {
	r.t.Helper()
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	if p == nil {
		r.t.Fatalf("triaged process at %s is not running", r.url)
	}
	begun := time.Now()
	defer func() {
		r.t.Logf("triaged process at %s ready after %s", r.url, time.Since(begun).Round(time.Millisecond))
	}()
	probe := &http.Client{Timeout: 2 * time.Second}
	testkit.Eventually(r.t, 30*time.Second, "triaged process at "+r.url+" ready", func() bool {
		select {
		case <-p.Exited():
			r.t.Fatalf("triaged process at %s exited", r.url)
		default:
		}
		resp, err := probe.Get(r.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// kill kills the replica with SIGKILL, if it runs.
func (r *replicaProcess) kill() {
	r.mu.Lock()
	p := r.proc
	r.proc = nil
	r.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// stdout is what each life of the replica printed on standard output, in order.
func (r *replicaProcess) stdout() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lives {
		out = append(out, l.String())
	}
	return out
}
