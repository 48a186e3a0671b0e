package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a nats-server node should the tool die first (a panic, a
// SIGKILL), which no deferred stop would survive to do.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
