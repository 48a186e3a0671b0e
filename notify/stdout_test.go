package notify

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/triaged/triaged"
)

// slowWriter copies one byte at a time and yields in between, without a lock of its own: if two
// reports were written at once, the race detector would see it and their bytes would interleave.
type slowWriter struct {
	buf    []byte
	writes int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.writes++
	for _, c := range p {
		w.buf = append(w.buf, c)
		runtime.Gosched()
	}
	return len(p), nil
}

func TestStdoutConcurrentReportsDoNotInterleave(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	w := &slowWriter{}
	sink := NewStdout(w, r)
	const n = 20
	var want []string
	var wg sync.WaitGroup
	for i := range n {
		rep := openedP1()
		rep.ID = fmt.Sprintf("report-%02d", i)
		rep.Service = fmt.Sprintf("service-%02d", i)
		text, err := r.Markdown(rep)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(text))
		wg.Go(func() {
			if _, err := sink.Deliver(t.Context(), Delivery{Report: rep}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	if w.writes != n {
		t.Errorf("%d writes for %d reports, want one each", w.writes, n)
	}
	got := strings.SplitAfter(string(w.buf), separator)
	if last := got[len(got)-1]; last != "" {
		t.Fatalf("output does not end with the separator: %q", last)
	}
	got = got[:len(got)-1]
	for i := range got {
		got[i] = strings.TrimSuffix(got[i], separator)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("stdout holds %d reports; they are not the %d rendered ones, whole and in one piece each", len(got), n)
	}
}

func TestStdoutSkipsRedelivery(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sink := NewStdout(&b, r)
	for range 3 {
		if _, err := sink.Deliver(t.Context(), Delivery{Report: openedP1()}); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(b.String(), "## INCIDENT REPORT"); got != 1 {
		t.Errorf("a report delivered 3 times was printed %d times, want 1", got)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestStdoutErrors(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	errBroken := errors.New("broken pipe")
	sink := NewStdout(failingWriter{errBroken}, r)
	_, err = sink.Deliver(t.Context(), Delivery{Report: openedP1()})
	if !errors.Is(err, errBroken) || !strings.HasPrefix(err.Error(), "write report 3f9a1c2b7d4e5f60-20260314T092653Z-opened to stdout: ") {
		t.Errorf("Deliver to a failing writer: %v", err)
	}

	var b strings.Builder
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := NewStdout(&b, r).Deliver(ctx, Delivery{Report: openedP1()}); !errors.Is(err, context.Canceled) || b.Len() > 0 {
		t.Errorf("Deliver with a canceled context: err %v, wrote %d bytes", err, b.Len())
	}
	if _, err := NewStdout(&b, r).Deliver(t.Context(), Delivery{Report: (*triaged.Report)(nil)}); err == nil {
		t.Error("Deliver(nil) did not fail")
	}
	if got := sink.Name(); got != "stdout" {
		t.Errorf("Name() = %q", got)
	}
}

func TestRecentIDsEvictsOldest(t *testing.T) {
	r := newRecentIDs(2)
	for _, id := range []string{"a", "b", "a", "c"} {
		r.add(id)
	}
	for id, want := range map[string]bool{"a": false, "b": true, "c": true, "": false} {
		if got := r.seen(id); got != want {
			t.Errorf("seen(%q) = %v, want %v", id, got, want)
		}
	}
	r.add("")
	if len(r.set) != 2 {
		t.Errorf("set holds %d IDs, want 2", len(r.set))
	}
}
