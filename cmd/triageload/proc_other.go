//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing where there is no parent-death signal: the tool's own stop ends
// the nodes.
func dieWithParent(*exec.Cmd) {}
