package rules

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Watch and its file watcher
// must end with their context.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
