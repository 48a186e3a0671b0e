package logtail

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/triaged/triaged/internal/confval"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestNoGoroutineLeak: timed-out and finished commands leave no goroutine behind (exec's output
// copiers, the context watcher).
func TestNoGoroutineLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	hang := mustCompile(t, Spec{Command: &CommandSpec{Argv: []string{"/bin/sleep", "60"}, Timeout: confval.Duration(100 * time.Millisecond)}})
	quick := mustCompile(t, Spec{Command: &CommandSpec{Argv: []string{"/bin/echo", "error"}}})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { Tail(context.Background(), hang, nil, nil) })
		wg.Go(func() { Tail(context.Background(), quick, nil, nil) })
	}
	wg.Wait()
	goleak.VerifyNone(t, before)
}
