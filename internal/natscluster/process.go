package natscluster

import (
	"fmt"
	"os/exec"
	"runtime"
	"sync"
)

// Process is a child process of a test — a nats-server node, or a triaged replica a test kills —
// in a process group of its own, so Kill ends everything it started, and killed by the kernel
// should the test binary die first (on Linux), which no t.Cleanup would survive to do.
type Process struct {
	pid    int
	exited chan struct{}
	once   sync.Once
}

// StartProcess starts cmd as a Process.
func StartProcess(cmd *exec.Cmd) (*Process, error) {
	ownProcessGroup(cmd)
	started, exited := make(chan error), make(chan struct{})
	go func() {
		// The parent-death signal fires when the thread that started the process ends, not the
		// test binary: keep this goroutine on that thread until the process has exited.
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return &Process{pid: cmd.Process.Pid, exited: exited}, nil
}

// Kill kills the process group with SIGKILL, as the OOM killer or a lost machine does: nothing
// is flushed or said goodbye to. It waits until the process has exited; a stopped process is
// killed as well, as SIGKILL needs no SIGCONT. Killing it again does nothing.
func (p *Process) Kill() {
	p.once.Do(func() { killGroup(p.pid) })
	<-p.exited
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop freezes the process group (SIGSTOP): its connections stay open and nothing on them is
// answered, which a killed process (connections refused at once) is not.
func (p *Process) Stop() error { return stopGroup(p.pid) }

// Continue resumes the process group after Stop.
func (p *Process) Continue() error { return continueGroup(p.pid) }
