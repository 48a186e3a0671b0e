package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// natsServer is an external nats-server process: JetStream on file storage in its own temporary
// directory, clients on a random loopback port.
type natsServer struct {
	cmd  *exec.Cmd
	dir  string
	url  string
	exit chan error
}

// buildNATSServer builds the nats-server of the module's go.mod into dir. `go build` caches, so
// after the first time this only links.
func buildNATSServer(dir string) (string, error) {
	bin := filepath.Join(dir, "nats-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build github.com/nats-io/nats-server/v2 (run triageload from triaged's module, or pass -nats-server): %w", err)
	}
	return bin, nil
}

// startNATSServer starts bin and waits until it listens. Its ports file says where: a port
// picked by the server cannot be taken by anyone else in between.
func startNATSServer(bin string) (*natsServer, error) {
	dir, err := os.MkdirTemp("", "triageload-nats-")
	if err != nil {
		return nil, err
	}
	s := &natsServer{dir: dir, exit: make(chan error, 1)}
	s.cmd = exec.Command(bin, "--jetstream", "--store_dir", filepath.Join(dir, "store"),
		"--addr", "127.0.0.1", "--port", "-1", "--http_port", "0", "--ports_file_dir", dir)
	s.cmd.Stderr = &tail{}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.exit <- s.cmd.Wait() }()
	portsFile := filepath.Join(dir, fmt.Sprintf("%s_%d.ports", filepath.Base(bin), s.cmd.Process.Pid))
	deadline := time.Now().Add(15 * time.Second)
	for {
		var ports struct {
			Nats []string `json:"nats"`
		}
		if data, err := os.ReadFile(portsFile); err == nil && json.Unmarshal(data, &ports) == nil && len(ports.Nats) > 0 {
			s.url = ports.Nats[0]
			return s, nil
		}
		select {
		case err := <-s.exit:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("nats-server exited at start (%v): %s", err, s.cmd.Stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("nats-server wrote no ports file within 15s")
		}
	}
}

func (s *natsServer) pid() string { return strconv.Itoa(s.cmd.Process.Pid) }

// stop asks the server to shut down, kills it if it has not within 10 s, and removes its files.
func (s *natsServer) stop() {
	defer os.RemoveAll(s.dir)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
}

// tail keeps the last 4 KiB the server logged, for the error when it fails to start.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - 4096; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.b) }
