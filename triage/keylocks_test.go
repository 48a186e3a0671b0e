package triage

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestKeyLocksExcludeOneKeyOnlyAndForgetIt(t *testing.T) {
	var l keyLocks
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				unlock := l.lock("a")
				n := inside.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				inside.Add(-1)
				unlock()
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d changes of one key at once, want 1", most.Load())
	}
	unlockA := l.lock("a")
	unlockB := l.lock("b") // another key does not wait
	unlockB()
	unlockA()
	if len(l.held) != 0 {
		t.Errorf("%d keys still held after every unlock", len(l.held))
	}
}
