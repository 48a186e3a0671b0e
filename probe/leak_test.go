package probe

import (
	"context"
	"net/http"
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

// TestNoGoroutineLeak: probes that time out or succeed leave no connection or goroutine behind
// (keep-alives are off, so the transport holds nothing idle), while the server they probed
// still runs.
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
	before := goleak.IgnoreCurrent()
	hang := mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL + "/hang", Timeout: confval.Duration(100 * time.Millisecond)}})
	ok := mustCompile(t, Spec{HTTP: &HTTPSpec{URL: s.URL + "/ok"}})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { Run(context.Background(), hang, nil, nil) })
		wg.Go(func() { Run(context.Background(), ok, nil, nil) })
	}
	wg.Wait()
	goleak.VerifyNone(t, before)
}
