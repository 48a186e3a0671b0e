// Package testkit waits for what a test cannot be told about directly: a condition that becomes
// true in another goroutine, polled instead of slept for.
package testkit

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// pollEvery is short enough that a test waits little past the moment its condition holds, and
// long enough that polling does not starve the goroutines it waits for on two cores under -race.
const pollEvery = 10 * time.Millisecond

// Eventually polls cond until it returns true, and fails the test with what it waited for when
// it has not after timeout. Call it from the test's goroutine, as t.Fatal requires; cond may
// use t. A condition that holds at once costs nothing, so the timeout can be generous: it only
// bounds how long a broken test hangs.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// SyncBuffer is a bytes.Buffer that several goroutines may write (a logger, a sink) while a
// test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
