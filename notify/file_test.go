package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/triaged/triaged"
)

func openFile(t *testing.T, path string) *File {
	t.Helper()
	s, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readLines decodes every line of the report file, failing on a line that is not a whole report.
func readLines(t *testing.T, path string) []*triaged.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var reps []*triaged.Report
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		rep := new(triaged.Report)
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(rep); err != nil {
			t.Fatalf("line %d is not a report: %v\n%s", i+1, err, line)
		}
		reps = append(reps, rep)
	}
	return reps
}

func TestFileConcurrentDeliveriesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports", "nested", "reports.jsonl")
	s := openFile(t, path)
	fixtures := []func() *triaged.Report{openedP1, pendingP3, resolvedP2, updatedP1, hostile}
	const n = 50
	sent := make(map[string]*triaged.Report, n)
	var wg sync.WaitGroup
	for i := range n {
		rep := fixtures[i%len(fixtures)]()
		rep.ID = fmt.Sprintf("%s-%02d", rep.ID, i)
		sent[rep.ID] = rep
		wg.Go(func() {
			if _, err := s.Deliver(t.Context(), Delivery{Report: rep}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	got := readLines(t, path)
	if len(got) != n {
		t.Fatalf("%d lines for %d reports", len(got), n)
	}
	for _, rep := range got {
		want, ok := sent[rep.ID]
		if !ok {
			t.Errorf("unexpected report %q", rep.ID)
			continue
		}
		if !reflect.DeepEqual(rep, want) {
			t.Errorf("report %s does not round-trip:\n got  %+v\n want %+v", rep.ID, rep, want)
		}
		delete(sent, rep.ID)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("file mode %v, want at most 0640: reports hold log excerpts", perm)
	}
}

// A redelivered report is written once, also when the sink was reopened in between (a restart).
func TestFileSkipsRedelivery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports.jsonl")
	s := openFile(t, path)
	for range 2 {
		if _, err := s.Deliver(t.Context(), Delivery{Report: openedP1()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openFile(t, path)
	for _, rep := range []*triaged.Report{openedP1(), resolvedP2(), resolvedP2()} {
		if _, err := s.Deliver(t.Context(), Delivery{Report: rep}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, rep := range readLines(t, path) {
		ids = append(ids, rep.ID)
	}
	want := []string{openedP1().ID, resolvedP2().ID}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("file holds %q, want %q", ids, want)
	}
}

// A file that ends in a partial line (a crash mid-write) gets its next report on a line of its
// own, so one torn line does not spoil the next.
func TestFileTerminatesTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports.jsonl")
	if err := os.WriteFile(path, []byte(`{"id":"whole"}`+"\n"+`{"id":"torn","sev`), 0o640); err != nil {
		t.Fatal(err)
	}
	s := openFile(t, path)
	rep := openedP1()
	if _, err := s.Deliver(t.Context(), Delivery{Report: rep}); err != nil {
		t.Fatal(err)
	}
	whole := openedP1()
	whole.ID = "whole" // already in the file: skipped
	if _, err := s.Deliver(t.Context(), Delivery{Report: whole}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 || lines[1] != `{"id":"torn","sev` {
		t.Fatalf("file:\n%s", data)
	}
	var got triaged.Report
	if err := json.Unmarshal([]byte(lines[2]), &got); err != nil || got.ID != rep.ID {
		t.Errorf("the report after the torn line is not whole: %v\n%s", err, lines[2])
	}
}

func TestFileErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports.jsonl")
	s := openFile(t, path)
	if got := s.Name(); got != "file" {
		t.Errorf("Name() = %q", got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Deliver(ctx, Delivery{Report: openedP1()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver with a canceled context: %v", err)
	}

	bad := openedP1()
	bad.Severity = 0 // not a severity: the report cannot be encoded
	if _, err := s.Deliver(t.Context(), Delivery{Report: bad}); err == nil || !strings.HasPrefix(err.Error(), "write report "+bad.ID+" to "+path+": encode: ") {
		t.Errorf("Deliver of an unencodable report: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := s.Deliver(t.Context(), Delivery{Report: openedP1()})
	if !errors.Is(err, os.ErrClosed) || !strings.HasPrefix(err.Error(), "write report 3f9a1c2b7d4e5f60-20260314T092653Z-opened to "+path+": ") {
		t.Errorf("Deliver after Close: %v", err)
	}
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Errorf("failed deliveries wrote %q", data)
	}

	if _, err := NewFile(""); err == nil {
		t.Error("NewFile(\"\") did not fail")
	}
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFile(filepath.Join(blocker, "reports.jsonl")); err == nil {
		t.Error("NewFile under a regular file did not fail")
	}
}

// A device is written to, not synced or read back: /dev/full fails every write, as a full disk
// would, and the error says which report and which file.
func TestFileWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	s := openFile(t, "/dev/full")
	_, err := s.Deliver(t.Context(), Delivery{Report: openedP1()})
	if err == nil || !strings.HasPrefix(err.Error(), "write report 3f9a1c2b7d4e5f60-20260314T092653Z-opened to /dev/full: ") {
		t.Errorf("Deliver to /dev/full: %v", err)
	}
}

// TestFileFollowsRotationAndDeletion: a report file moved away (logrotate) or deleted is opened
// again at its path, so no report is counted as delivered into a file nobody can find.
func TestFileFollowsRotationAndDeletion(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reports.jsonl")
	s, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	deliver := func(id string) {
		t.Helper()
		if _, err := s.Deliver(context.Background(), Delivery{Report: &triaged.Report{ID: id, Severity: triaged.P3}}); err != nil {
			t.Fatal(err)
		}
	}
	deliver("r1")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	deliver("r2")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	deliver("r3")
	for file, want := range map[string]string{path + ".1": `"id":"r1"`, path: `"id":"r3"`} {
		data, err := os.ReadFile(file)
		if err != nil || !strings.Contains(string(data), want) || strings.Count(string(data), "\n") != 1 {
			t.Errorf("%s: %q (%v), want one line with %s", file, data, err, want)
		}
	}
}

// TestFileEscapesInvisibleCharacters: bidi overrides and C1 controls in a label reach the file
// as \u escapes, not as characters that reorder or control what a reader sees.
func TestFileEscapesInvisibleCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports.jsonl")
	s, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rep := &triaged.Report{ID: "r", Severity: triaged.P3, Summary: "ok\u202egnp.exe\u0085\u2066x"}
	if _, err := s.Deliver(context.Background(), Delivery{Report: rep}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.ContainsAny(string(data), "\u202e\u0085\u2066") || !strings.Contains(string(data), `ok\u202egnp.exe\u0085\u2066x`) {
		t.Errorf("file holds %q", data)
	}
	var back triaged.Report
	if err := json.Unmarshal(data, &back); err != nil || back.Summary != rep.Summary {
		t.Errorf("the escaped line reads back as %q (%v), want %q", back.Summary, err, rep.Summary)
	}
}
