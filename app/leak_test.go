package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Run must stop every part it
// started, the embedded NATS server included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
