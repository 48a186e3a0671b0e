package probe

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged/internal/confval"
)

// TestNoGoroutineLeak: probes that time out or succeed leave no connection or goroutine behind
// (keep-alives are off, so the transport holds nothing idle).
func TestNoGoroutineLeak(t *testing.T) {
	release := make(chan struct{})
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	})
	defer close(release)
	before := runtime.NumGoroutine()
	hang := mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL + "/hang", Timeout: confval.Duration(100 * time.Millisecond)}})
	ok := mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL + "/ok"}})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { Run(context.Background(), hang, nil, nil) })
		wg.Go(func() { Run(context.Background(), ok, nil, nil) })
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
