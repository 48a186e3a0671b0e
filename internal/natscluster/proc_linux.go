package natscluster

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts a process in a process group of its own, so killGroup ends it, and has the
// kernel kill it should the test binary die first (a panic, a -timeout), which no t.Cleanup
// would survive to do.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// A stopped node keeps its connections open and answers nothing: to its peers and clients it is
// partitioned away, which a killed node (connections refused at once) is not.
func stopGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGSTOP) }

func continueGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGCONT) }
