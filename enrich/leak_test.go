package enrich_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them. An enricher abandoned at its
// deadline may outlive Enrich, by design, but not the test that released it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
