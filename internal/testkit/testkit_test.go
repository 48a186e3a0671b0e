package testkit

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	Eventually(t, 5*time.Second, "three increments", func() bool { return n.Load() == 3 })
}

// fatalRecorder stops at Fatalf, as testing.T does, and keeps the message.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, a ...any) {
	r.msg = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

func TestEventuallyFailsWithWhatItWaitedFor(t *testing.T) {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Eventually(r, 30*time.Millisecond, "the impossible", func() bool { return false })
		t.Error("Eventually returned on a condition that never held")
	}()
	<-done
	if want := "not within 30ms: the impossible"; r.msg != want {
		t.Errorf("failure %q, want %q", r.msg, want)
	}
}
