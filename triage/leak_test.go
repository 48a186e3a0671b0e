package triage_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: the worker pool, its
// in-progress tickers and the pending-messages poll must all end with Run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
