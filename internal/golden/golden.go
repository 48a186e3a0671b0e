// Package golden compares what a test produced with a file kept under testdata/, and owns the
// -update flag that rewrites those files, so that an intended change is accepted by reviewing
// the files' diff rather than by editing expectations by hand.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the tests produce")

// Check compares got with the golden file at path, relative to the package under test. With
// -update it writes got to path instead, creating the directory, and checks nothing. A
// mismatch fails the test with the lines that differ.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update to accept it, then review the diff):\n%s", path, Diff(string(want), string(got)))
	}
}

// maxDiffLines bounds the message: past that, one more line says how much was left out.
const maxDiffLines = 60

// Diff lists the lines that differ between want and got, "-N: " for a line of want that got
// lacks and "+N: " for a line of got that want lacks, N counting from 1 in its own text. The
// lines both keep in the same order (their longest common subsequence) are not shown, so an
// inserted line shows as one line, not as every line after it.
func Diff(want, got string) string {
	w, g := lines(want), lines(got)
	// lcs[i][j] is the length of the longest common subsequence of w[i:] and g[j:].
	lcs := make([][]int, len(w)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			i, j = i+1, j+1
		case i < len(w) && (j == len(g) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, fmt.Sprintf("-%d: %s", i+1, show(w[i])))
			i++
		default:
			out = append(out, fmt.Sprintf("+%d: %s", j+1, show(g[j])))
			j++
		}
	}
	if len(out) > maxDiffLines {
		out = append(out[:maxDiffLines], fmt.Sprintf("… and %d more differing lines", len(out)-maxDiffLines))
	}
	return strings.Join(out, "\n")
}

// lines splits s after each newline; a final newline does not start an empty last line.
func lines(s string) []string {
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// show prints a line without its newline, and marks a last line that has none, since a missing
// final newline is a difference too.
func show(line string) string {
	if s, ok := strings.CutSuffix(line, "\n"); ok {
		return s
	}
	return line + "  [no newline at end]"
}
