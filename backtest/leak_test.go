package backtest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Run's reader, workers and
// aggregate must end with it, whether it succeeds, its source fails or its context ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
