package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the daemon's tests if a goroutine outlives them: after SIGTERM every part the
// daemon started must have stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
