//go:build unix

package logtail

import (
	"os/exec"
	"syscall"
)

// openFlags makes opening a FIFO return at once instead of waiting for a writer.
const openFlags = syscall.O_NONBLOCK

// ownProcessGroup starts the command in a process group of its own and has a cancellation kill
// the whole group, so the children it started (a pager, a helper) die with it.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
