//go:build !linux

package natscluster

import (
	"errors"
	"os"
	"os/exec"
)

// ownProcessGroup does nothing where process groups and a parent-death signal are not
// available in the same way; killGroup then kills the node alone.
func ownProcessGroup(*exec.Cmd) {}

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

var errNoStop = errors.New("natscluster: stopping a node is only supported on Linux")

func stopGroup(int) error { return errNoStop }

func continueGroup(int) error { return errNoStop }
