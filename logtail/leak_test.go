package logtail

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged/internal/confval"
)

// TestNoGoroutineLeak: timed-out and finished commands leave no goroutine behind (exec's output
// copiers, the context watcher).
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	hang := mustCompile(t, Spec{Command: &CommandSpec{Argv: []string{"/bin/sleep", "60"}, Timeout: confval.Duration(100 * time.Millisecond)}})
	quick := mustCompile(t, Spec{Command: &CommandSpec{Argv: []string{"/bin/echo", "error"}}})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { Tail(context.Background(), hang, nil, nil) })
		wg.Go(func() { Tail(context.Background(), quick, nil, nil) })
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
