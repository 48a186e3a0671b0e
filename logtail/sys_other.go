//go:build !unix

package logtail

import "os/exec"

const openFlags = 0

// ownProcessGroup is a no-op where process groups do not exist; a cancellation kills the
// process alone.
func ownProcessGroup(cmd *exec.Cmd) {}

// waitAndEndGroup waits for the process alone, for want of process groups.
func waitAndEndGroup(cmd *exec.Cmd) error { return cmd.Wait() }
