package api_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: a list request must not leave
// the bucket's key lister behind, even when it ran out of time.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
