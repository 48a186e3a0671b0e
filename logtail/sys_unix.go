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

// waitAndEndGroup waits for the command to exit, then kills what is left of its process group:
// a command that put something in the background (`sleep 30 &`) must not leave it running, nor
// holding the output pipe open. Where the platform can wait for the exit without reaping it,
// the group is killed while the leader is still a zombie, so its id cannot have been reused by
// another process group; elsewhere it is killed right after.
func waitAndEndGroup(cmd *exec.Cmd) error {
	pid := cmd.Process.Pid
	if leaderExited(pid) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return cmd.Wait()
	}
	err := cmd.Wait()
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	return err
}
