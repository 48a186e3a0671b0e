package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name, want, got, diff string
	}{
		{"same", "a\nb\n", "a\nb\n", ""},
		{"changed line", "a\nb\nc\n", "a\nB\nc\n", "-2: b\n+2: B"},
		{"inserted line shifts nothing else", "a\nb\nc\n", "a\nnew\nb\nc\n", "+2: new"},
		{"removed line", "a\nb\nc\n", "a\nc\n", "-2: b"},
		{"final newline lost", "a\nb\n", "a\nb", "-2: b\n+2: b  [no newline at end]"},
		{"from empty", "", "a\n", "+1: a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff(tc.want, tc.got); got != tc.diff {
				t.Errorf("Diff:\n%s\nwant:\n%s", got, tc.diff)
			}
		})
	}
	long := Diff("", strings.Repeat("x\n", maxDiffLines+5))
	if n := strings.Count(long, "\n") + 1; n != maxDiffLines+1 || !strings.HasSuffix(long, "… and 5 more differing lines") {
		t.Errorf("a long diff is not cut at %d lines: %d lines ending %q", maxDiffLines, n, long[len(long)-40:])
	}
}

// recorder keeps what a check reported instead of failing the test that runs it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.golden")
	defer func(u bool) { *update = u }(*update)

	*update = true
	Check(t, path, []byte("one\ntwo\n"))
	if b, err := os.ReadFile(path); err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("-update wrote %q, %v", b, err)
	}

	*update = false
	Check(t, path, []byte("one\ntwo\n"))
	r := &recorder{TB: t}
	Check(r, path, []byte("one\n2\n"))
	if len(r.errors) != 1 || !strings.HasSuffix(r.errors[0], "\n-2: two\n+2: 2") || !strings.Contains(r.errors[0], path) {
		t.Fatalf("a mismatch reported %q; want one error naming the file and the differing lines", r.errors)
	}
}
