package logtail

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/fielderr"
	"github.com/triaged/triaged/redact"
)

func mustCompile(t testing.TB, s Spec) *Compiled {
	t.Helper()
	c, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// numbered returns lines "prefix 1" … "prefix n", each ending in a newline.
func numbered(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

func tailFileSpec(t testing.TB, f FileSpec, labels map[string]string) triaged.LogTail {
	t.Helper()
	return Tail(context.Background(), mustCompile(t, Spec{File: &f}), labels, nil)
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want []string
	}{
		{"neither", Spec{}, []string{"a log source needs one of file or command"}},
		{"both", Spec{File: &FileSpec{Path: "/a"}, Command: &CommandSpec{Argv: []string{"echo"}}}, []string{"exactly one of file or command"}},
		{"no path", Spec{File: &FileSpec{}}, []string{"file.path: required"}},
		{"lines", Spec{File: &FileSpec{Path: "/a", Lines: 5000}}, []string{"file.lines: 5000 is out of range 1..1000"}},
		{"max bytes", Spec{File: &FileSpec{Path: "/a", MaxBytes: 10}}, []string{"file.max_bytes: 10 is out of range"}},
		{"scan bytes", Spec{File: &FileSpec{Path: "/a", ScanBytes: 1}}, []string{"file.scan_bytes: 1 is out of range"}},
		{"filter", Spec{File: &FileSpec{Path: "/a", Filter: "(error"}}, []string{`file.filter: invalid pattern "(error"`}},
		{"path template without allow", Spec{File: &FileSpec{Path: "/var/log/{{ .Labels.pod }}.log"}}, []string{"file.path: is a template"}},
		{"allow without template", Spec{File: &FileSpec{Path: "/var/log/a.log", Allow: "/var/log/.+"}}, []string{"file.allow: set, but file.path is not a template"}},
		{"no argv", Spec{Command: &CommandSpec{}}, []string{"command.argv: required"}},
		{"empty program", Spec{Command: &CommandSpec{Argv: []string{" "}}}, []string{"command.argv[0]: empty program name"}},
		{"program template", Spec{Command: &CommandSpec{Argv: []string{"{{ .Labels.cmd }}"}, Allow: "echo"}},
			[]string{`command.argv[0]: "{{ .Labels.cmd }}": the program cannot be a template`, "command.allow: set, but no argv element is a template"}},
		{"relative program", Spec{Command: &CommandSpec{Argv: []string{"./bin/logs"}}}, []string{`command.argv[0]: "./bin/logs": use an absolute path or a program name found in PATH`}},
		{"arg template without allow", Spec{Command: &CommandSpec{Argv: []string{"kubectl", "logs", "{{ .Labels.pod }}"}}}, []string{"command.argv[2]: is a template"}},
		{"arg template typo", Spec{Command: &CommandSpec{Argv: []string{"kubectl", "{{ .Labels.pod }", "x"}, Allow: "[a-z]+"}}, []string{"command.argv[1]: template: command.argv[1]:1: unexpected"}},
		{"env name", Spec{Command: &CommandSpec{Argv: []string{"env"}, Env: map[string]string{"A-B": "x", "OK": "y"}}}, []string{`command.env: "A-B" is not a valid variable name`}},
		{"env value", Spec{Command: &CommandSpec{Argv: []string{"env"}, Env: map[string]string{"A": "x\x00y"}}}, []string{"command.env.A: value contains NUL"}},
		{"dir", Spec{Command: &CommandSpec{Argv: []string{"env"}, Dir: "tmp"}}, []string{`command.dir: "tmp" is not an absolute path`}},
		{"timeout", Spec{Command: &CommandSpec{Argv: []string{"env"}, Timeout: confval.Duration(-time.Second)}}, []string{"command.timeout: must not be negative, got -1s"}},
		{"max output", Spec{Command: &CommandSpec{Argv: []string{"env"}, MaxOutputBytes: 1}}, []string{"command.max_output_bytes: 1 is out of range"}},
		{"command lines", Spec{Command: &CommandSpec{Argv: []string{"env"}, Lines: -1}}, []string{"command.lines: -1 is out of range"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.spec)
			if err == nil {
				t.Fatal("no error")
			}
			if c.spec.Validate() == nil {
				t.Error("Validate disagrees with Compile")
			}
			fields := fielderr.List(err)
			if len(fields) != len(c.want) {
				t.Fatalf("got %d errors (%v), want %d", len(fields), err, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(fields[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, fields[i].Error(), w)
				}
			}
		})
	}
}

func TestFileTail(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	content := "" +
		"2024-05-01 info started\n" +
		"2024-05-01 ERROR db: connection refused password=hunter2\n" +
		"2024-05-01 info request ok\n" +
		"2024-05-01 warn slow\r\n" +
		"2024-05-01 \x1b[31mFATAL\x1b[0m out of memory\n" +
		"2024-05-01 info request ok\n" +
		"2024-05-01 panic: nil map (still writing"
	writeFile(t, log, content)
	cases := []struct {
		name string
		spec FileSpec
		want []string
	}{
		{"default filter", FileSpec{Path: log}, []string{
			"2024-05-01 ERROR db: connection refused password=[REDACTED]",
			"2024-05-01 FATAL out of memory",
			"2024-05-01 panic: nil map (still writing",
		}},
		{"last two", FileSpec{Path: log, Lines: 2}, []string{
			"2024-05-01 FATAL out of memory",
			"2024-05-01 panic: nil map (still writing",
		}},
		{"every line", FileSpec{Path: log, Filter: "."}, []string{
			"2024-05-01 info started",
			"2024-05-01 ERROR db: connection refused password=[REDACTED]",
			"2024-05-01 info request ok",
			"2024-05-01 warn slow",
			"2024-05-01 FATAL out of memory",
			"2024-05-01 info request ok",
			"2024-05-01 panic: nil map (still writing",
		}},
		{"custom filter", FileSpec{Path: log, Filter: `\bwarn\b`}, []string{"2024-05-01 warn slow"}},
		{"no match", FileSpec{Path: log, Filter: `nothing-like-this`}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := tailFileSpec(t, c.spec, nil)
			if got.Error != "" || got.Truncated || got.Source != log {
				t.Errorf("got %+v", got)
			}
			if !equal(got.Lines, c.want) {
				t.Errorf("lines\n got %q\nwant %q", got.Lines, c.want)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFileNameAndEmpty(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.log")
	writeFile(t, empty, "")
	got := Tail(context.Background(), mustCompile(t, Spec{Name: "app", File: &FileSpec{Path: empty}}), nil, nil)
	if got.Source != "app" || got.Error != "" || got.Lines == nil || len(got.Lines) != 0 {
		t.Errorf("empty file: %+v", got)
	}
}

func TestFileCaps(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	long := "error " + strings.Repeat("x", 3000) + " token=abcdef"
	huge := "error " + strings.Repeat("é", 100<<10) // 200 KiB, past the scan's line limit
	writeFile(t, log, long+"\n"+huge+"\n"+numbered("error", 1, 200))

	got := tailFileSpec(t, FileSpec{Path: log, Lines: 1000, MaxBytes: 8 << 10}, nil)
	if !got.Truncated {
		t.Error("Truncated is false")
	}
	size := 0
	for _, l := range got.Lines {
		size += len(l) + 1
		if len(l) > MaxLineBytes+len(LineCutMarker) {
			t.Errorf("line of %d bytes", len(l))
		}
	}
	if size > 8<<10 {
		t.Errorf("%d bytes returned, cap 8192", size)
	}
	if last := got.Lines[len(got.Lines)-1]; last != "error 200" {
		t.Errorf("newest line %q: the oldest must go first", last)
	}

	got = tailFileSpec(t, FileSpec{Path: log, Lines: 1000, MaxBytes: 1 << 20}, nil)
	if len(got.Lines) != 202 {
		t.Fatalf("%d lines, want 202", len(got.Lines))
	}
	want := "error " + strings.Repeat("x", MaxLineBytes-len("error ")) + LineCutMarker
	if got.Lines[0] != want {
		t.Errorf("long line: %q…", got.Lines[0][:40])
	}
	if l := got.Lines[1]; !strings.HasSuffix(l, "é"+LineCutMarker) || !strings.HasPrefix(l, "error éé") || len(l) > MaxLineBytes+len(LineCutMarker) {
		t.Errorf("huge line cut badly: %d bytes, ends %q", len(l), l[len(l)-30:])
	}
}

// TestFileCutAfterRedaction: a line is redacted before it is cut, so a secret straddling the
// cut is not half shown.
func TestFileCutAfterRedaction(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	pad := strings.Repeat("x", MaxLineBytes-len("error ")-len("password=hun"))
	writeFile(t, log, "error "+pad+"password=hunter2\n")
	got := tailFileSpec(t, FileSpec{Path: log}, nil)
	if len(got.Lines) != 1 || strings.Contains(got.Lines[0], "hun") {
		t.Errorf("got %q", got.Lines)
	}
}

func TestFileRedactsMultilineKey(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, log, "loading key\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\nabcdefghijklmnop\n-----END RSA PRIVATE KEY-----\nerror: bad key\n")
	r, err := redact.New([]string{`bad (key)`})
	if err != nil {
		t.Fatal(err)
	}
	got := Tail(context.Background(), mustCompile(t, Spec{File: &FileSpec{Path: log, Filter: "."}}), nil, r)
	want := []string{"loading key", "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----", "error: bad [REDACTED]"}
	if !equal(got.Lines, want) {
		t.Errorf("got %q\nwant %q", got.Lines, want)
	}
}

func TestFileMissingAndRotated(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")

	got := tailFileSpec(t, FileSpec{Path: log, Filter: "."}, nil)
	if !strings.Contains(got.Error, "no such file or directory") || len(got.Lines) != 0 || got.Source != log {
		t.Errorf("missing file: %+v", got)
	}

	// Before rotation: 10 lines. Rotate (rename, new file) and write 2 more.
	writeFile(t, log, numbered("error", 1, 10))
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	got = tailFileSpec(t, FileSpec{Path: log, Filter: "."}, nil)
	if !strings.Contains(got.Error, "no such file or directory; showing "+log+".1") || len(got.Lines) != 10 {
		t.Errorf("rotated, new file not yet created: %+v", got)
	}
	writeFile(t, log, numbered("error", 11, 12))

	got = tailFileSpec(t, FileSpec{Path: log, Filter: ".", Lines: 5}, nil)
	if want := strings.Fields(strings.ReplaceAll(numbered("error", 8, 12), "error ", "error_")); got.Error != "" || !equal(under(got.Lines), want) {
		t.Errorf("after rotation: %+v, want %q", got, want)
	}
	got = tailFileSpec(t, FileSpec{Path: log, Filter: ".", Lines: 2}, nil)
	if !equal(got.Lines, []string{"error 11", "error 12"}) {
		t.Errorf("new file alone is enough: %q", got.Lines)
	}
	got = tailFileSpec(t, FileSpec{Path: log, Filter: ".", Lines: 100}, nil)
	if len(got.Lines) != 12 || got.Lines[0] != "error 1" {
		t.Errorf("all of both: %q", got.Lines)
	}
}

func under(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = strings.ReplaceAll(l, " ", "_")
	}
	return out
}

func TestFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, dir} {
		done := make(chan triaged.LogTail)
		go func() { done <- tailFileSpec(t, FileSpec{Path: path}, nil) }()
		select {
		case got := <-done:
			if !strings.Contains(got.Error, "is not a regular file") {
				t.Errorf("%s: %+v", path, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("tail of %s hangs", path)
		}
	}
}

func TestFilePathFromLabels(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "checkout-1.log"), "error in checkout-1\n")
	spec := FileSpec{Path: dir + "/{{ .Labels.pod }}.log", Allow: regexp.QuoteMeta(dir) + `/checkout-[0-9]+\.log`}
	got := tailFileSpec(t, spec, map[string]string{"pod": "checkout-1"})
	if got.Error != "" || !equal(got.Lines, []string{"error in checkout-1"}) || got.Source != dir+"/checkout-1.log" {
		t.Errorf("allowed: %+v", got)
	}
	for _, pod := range []string{"../../etc/passwd", "checkout-1.log /etc/passwd", "checkout-x", "$(id)"} {
		got := tailFileSpec(t, spec, map[string]string{"pod": pod})
		if !strings.HasPrefix(got.Error, "target refused: filled value") || len(got.Lines) != 0 {
			t.Errorf("pod %q: %+v", pod, got)
		}
	}
	// A lax pattern still cannot climb out with "..": the filled path must be clean.
	lax := FileSpec{Path: dir + "/{{ .Labels.pod }}.log", Allow: regexp.QuoteMeta(dir) + `/.+`}
	got = tailFileSpec(t, lax, map[string]string{"pod": "../../../etc/passwd"})
	if !strings.Contains(got.Error, "is not absolute and clean") {
		t.Errorf("dot-dot: %+v", got)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n += int64(len(p))
	return c.r.ReadAt(p, off)
}

func sparse1GB(t testing.TB, tail string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "huge.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 1 << 30
	if err := f.Truncate(size - int64(len(tail))); err != nil {
		t.Fatal(err)
	}
	// Real lines just before the tail, so the scan crosses many of them.
	if _, err := f.WriteAt([]byte(tail), size-int64(len(tail))); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFile1GB(t *testing.T) {
	// 200 error lines in the last ~5 MB, among info lines; the rest is a 1 GB hole.
	var b strings.Builder
	for i := 1; i <= 100000; i++ {
		if i%500 == 0 {
			fmt.Fprintf(&b, "2024-05-01T10:00:00Z level=error msg=\"request failed\" id=%d\n", i)
		} else {
			fmt.Fprintf(&b, "2024-05-01T10:00:00Z level=info msg=\"request served\" id=%d path=/api/v1/items\n", i)
		}
	}
	path := sparse1GB(t, b.String())
	if st, err := os.Stat(path); err != nil || st.Size() != 1<<30 {
		t.Fatalf("size %v %v", st, err)
	}

	start := time.Now()
	got := tailFileSpec(t, FileSpec{Path: path, Lines: 100, Filter: "."}, nil)
	elapsed := time.Since(start)
	if got.Error != "" || len(got.Lines) != 100 || !strings.HasSuffix(got.Lines[99], "id=100000") || !strings.HasSuffix(got.Lines[98], "id=99999 path=/api/v1/items") {
		t.Fatalf("got %d lines, error %q", len(got.Lines), got.Error)
	}
	t.Logf("last 100 lines of a 1 GB file: %s", elapsed)
	if elapsed > time.Second { // a few ms without -race; a generous bound for slow CI
		t.Errorf("tail took %s", elapsed)
	}

	// One line in 500 is an error: the last 10 are within the default scan of 1 MiB…
	start = time.Now()
	got = tailFileSpec(t, FileSpec{Path: path, Lines: 10}, nil)
	t.Logf("last 10 errors of a 1 GB file: %s", time.Since(start))
	if len(got.Lines) != 10 || !strings.HasSuffix(got.Lines[0], "id=95500") || !strings.HasSuffix(got.Lines[9], "id=100000") {
		t.Fatalf("last 10 errors: %q", got.Lines)
	}
	// …100 of them are not: the scan stops at scan_bytes with what it found…
	got = tailFileSpec(t, FileSpec{Path: path, Lines: 100}, nil)
	if len(got.Lines) < 10 || len(got.Lines) >= 100 {
		t.Fatalf("default scan found %d errors", len(got.Lines))
	}
	// …and a larger scan_bytes finds them all.
	got = tailFileSpec(t, FileSpec{Path: path, Lines: 100, ScanBytes: 8 << 20}, nil)
	if len(got.Lines) != 100 || !strings.HasSuffix(got.Lines[0], "id=50500") {
		t.Fatalf("8 MiB scan: %d lines, first %q", len(got.Lines), got.Lines[0])
	}

	// A filter that never matches reads scan_bytes and stops, whatever the size.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := &countingReader{r: f}
	s, err := scanBack(context.Background(), cr, 1<<30, 100, DefaultScanBytes, mustFilter(t, "never-there"))
	if err != nil || len(s.lines) != 0 || cr.n != DefaultScanBytes || s.scanned != DefaultScanBytes || s.reachedStart {
		t.Errorf("scan read %d bytes (%+v, %v), want exactly %d", cr.n, s, err, DefaultScanBytes)
	}
}

// TestScanBackMatchesNaive compares the block-wise backward scan with splitting the whole text,
// across block boundaries, long lines and every kind of ending.
func TestScanBackMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	filter := mustFilter(t, `e`)
	for iter := range 300 {
		var b strings.Builder
		n := rng.IntN(40)
		for i := range n {
			length := rng.IntN(100)
			switch rng.IntN(10) {
			case 0:
				length = rng.IntN(3 * blockSize)
			case 1:
				length = 0
			}
			word := string(rune('a' + rng.IntN(26)))
			b.WriteString(fmt.Sprintf("%d%s", i, strings.Repeat(word, length)))
			if i < n-1 || rng.IntN(2) == 0 {
				b.WriteByte('\n')
			}
		}
		text := b.String()
		want := 1 + rng.IntN(50)
		s, err := scanBack(context.Background(), strings.NewReader(text), int64(len(text)), want, 1<<40, filter)
		if err != nil {
			t.Fatal(err)
		}
		got := reverse(s.lines)

		all := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if text == "" {
			all = nil
		}
		var exp []line
		for _, l := range all {
			cut := len(l) > maxScanLine
			if cut {
				l = l[:maxScanLine]
			}
			if filter.MatchString(l) {
				exp = append(exp, line{text: l, cut: cut})
			}
		}
		if len(exp) > want {
			exp = exp[len(exp)-want:]
		}
		if len(got) != len(exp) {
			t.Fatalf("iteration %d: %d lines, want %d", iter, len(got), len(exp))
		}
		for i := range exp {
			if got[i] != exp[i] {
				t.Fatalf("iteration %d line %d: got %d bytes cut=%v, want %d bytes cut=%v", iter, i, len(got[i].text), got[i].cut, len(exp[i].text), exp[i].cut)
			}
		}
	}
}

func BenchmarkTail1GB(b *testing.B) {
	path := sparse1GB(b, numbered("2024-05-01T10:00:00Z level=error msg=\"upstream timeout\" path=/api/checkout id=", 1, 50000))
	c := mustCompile(b, Spec{File: &FileSpec{Path: path}})
	for b.Loop() {
		if got := Tail(context.Background(), c, nil, nil); len(got.Lines) != DefaultLines {
			b.Fatalf("%d lines", len(got.Lines))
		}
	}
}

func BenchmarkTail1GBNoMatch(b *testing.B) {
	path := sparse1GB(b, numbered("2024-05-01T10:00:00Z level=info msg=\"request served\" path=/api/checkout id=", 1, 50000))
	c := mustCompile(b, Spec{File: &FileSpec{Path: path}})
	for b.Loop() {
		if got := Tail(context.Background(), c, nil, nil); len(got.Lines) != 0 {
			b.Fatalf("%d lines", len(got.Lines))
		}
	}
}

func mustFilter(t testing.TB, pattern string) *filter {
	t.Helper()
	f, err := newFilter(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
