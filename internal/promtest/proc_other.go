//go:build !linux

package promtest

import (
	"os"
	"os/exec"
)

// ownProcessGroup does nothing where process groups and a parent-death signal are not
// available in the same way; killGroup then kills Prometheus alone.
func ownProcessGroup(*exec.Cmd) {}

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
