package promtest

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts Prometheus in a process group of its own, so killGroup ends it and
// anything it started, and has the kernel kill it should the test binary die first (a panic, a
// -timeout), which no t.Cleanup would survive to do.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group led by pid. Prometheus keeps nothing a test needs on
// disk, so there is nothing a graceful stop would save.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
