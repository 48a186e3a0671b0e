package logtail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/testkit"
)

func run(t *testing.T, m CommandSpec, labels map[string]string) triaged.LogTail {
	t.Helper()
	return Tail(context.Background(), mustCompile(t, Spec{Command: &m}), labels, nil)
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	notExecutable := filepath.Join(dir, "data.txt")
	writeFile(t, notExecutable, "error: not a program\n")
	cases := []struct {
		name      string
		spec      CommandSpec
		lines     []string
		err       string
		source    string
		truncated bool
	}{
		{name: "echo", spec: CommandSpec{Argv: []string{"/bin/echo", "upstream error: timeout"}},
			lines: []string{"upstream error: timeout"}, source: `/bin/echo "upstream error: timeout"`},
		{name: "found in PATH", spec: CommandSpec{Argv: []string{"echo", "error"}}, lines: []string{"error"}, source: "echo error"},
		{name: "default filter drops info", spec: CommandSpec{Argv: []string{"/bin/echo", "all fine"}}, lines: []string{}},
		{name: "environment cleared", spec: CommandSpec{Argv: []string{"/usr/bin/env"}, Filter: "."}, lines: []string{}},
		{name: "environment is the config's", spec: CommandSpec{Argv: []string{"/usr/bin/env"}, Filter: ".",
			Env: map[string]string{"TZ": "UTC", "LANG": "C"}, Dir: dir},
			lines: []string{"LANG=C", "TZ=UTC"}},
		{name: "dir", spec: CommandSpec{Argv: []string{"/bin/pwd"}, Dir: dir, Filter: "."}, lines: []string{dir}},
		{name: "secrets redacted", spec: CommandSpec{Argv: []string{"/bin/echo", "error: login failed password=hunter2", "--token=abc"}},
			lines: []string{"error: login failed password=[REDACTED] --token=[REDACTED]"}, source: `/bin/echo "error: login failed password=[REDACTED]" --token=[REDACTED]`},
		{name: "non-zero exit keeps stderr", spec: CommandSpec{Argv: []string{"/bin/ls", "/nonexistent-dir"}, Filter: "."},
			lines: []string{"/bin/ls: cannot access '/nonexistent-dir': No such file or directory"}, err: "exit status 2"},
		{name: "stderr and stdout", spec: CommandSpec{Argv: []string{"/bin/sh", "-c", "echo error one; echo error two >&2; echo error three"}},
			lines: []string{"error one", "error two", "error three"}},
		{name: "last lines", spec: CommandSpec{Argv: []string{"/usr/bin/seq", "1", "1000"}, Filter: ".", Lines: 3}, lines: []string{"998", "999", "1000"}},
		{name: "not found", spec: CommandSpec{Argv: []string{"no-such-program-triaged"}}, lines: []string{},
			err: `exec: "no-such-program-triaged": executable file not found in $PATH`},
		{name: "not executable", spec: CommandSpec{Argv: []string{notExecutable}}, lines: []string{}, err: "permission denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, c.spec, nil)
			if !equal(got.Lines, c.lines) {
				t.Errorf("lines\n got %q\nwant %q", got.Lines, c.lines)
			}
			if (c.err == "") != (got.Error == "") || !strings.Contains(got.Error, c.err) {
				t.Errorf("Error = %q, want %q", got.Error, c.err)
			}
			if c.source != "" && got.Source != c.source {
				t.Errorf("Source = %q, want %q", got.Source, c.source)
			}
			if got.Truncated != c.truncated {
				t.Errorf("Truncated = %v", got.Truncated)
			}
		})
	}
}

// TestCommandOutputCap: output past max_output_bytes is discarded from the start, so the newest
// lines survive; the first, partial line is dropped.
func TestCommandOutputCap(t *testing.T) {
	got := run(t, CommandSpec{Argv: []string{"/usr/bin/seq", "1", "100000"}, Filter: ".", MaxOutputBytes: 1024, Lines: 1000}, nil)
	if got.Error != "" || !got.Truncated {
		t.Fatalf("got %+v", got)
	}
	if last := got.Lines[len(got.Lines)-1]; last != "100000" {
		t.Errorf("last line %q", last)
	}
	size := 0
	for i, l := range got.Lines {
		size += len(l) + 1
		if n, err := strconv.Atoi(l); err != nil || n != 100000-len(got.Lines)+1+i {
			t.Fatalf("line %d = %q: lines must be whole and consecutive", i, l)
		}
	}
	if size > 1024 {
		t.Errorf("%d bytes kept, cap 1024", size)
	}
}

// TestCommandTimeoutKillsProcessGroup: at the timeout the command and what it started die, and
// the output printed so far is kept.
func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	start := time.Now()
	got := run(t, CommandSpec{
		Argv:    []string{"/bin/sh", "-c", "/bin/sleep 60 & echo child $!; echo error before the hang; wait"},
		Timeout: confval.Duration(300 * time.Millisecond),
		Filter:  ".",
	}, nil)
	elapsed := time.Since(start)
	if got.Error != "timed out after 300ms; process group killed" {
		t.Errorf("Error = %q", got.Error)
	}
	if elapsed > 3*time.Second {
		t.Errorf("took %s", elapsed)
	}
	if len(got.Lines) != 2 || got.Lines[1] != "error before the hang" {
		t.Fatalf("lines %q", got.Lines)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(got.Lines[0], "child "))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, fmt.Sprintf("grandchild %d killed after the timeout", pid), func() bool { return !alive(pid) })
}

// alive reports whether pid runs (a zombie waiting for its reaper does not count).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func TestCommandEndlessOutputIsBounded(t *testing.T) {
	got := run(t, CommandSpec{Argv: []string{"/usr/bin/yes", "error"}, Timeout: confval.Duration(200 * time.Millisecond), Lines: 5}, nil)
	if !strings.HasPrefix(got.Error, "timed out") || !got.Truncated || !equal(got.Lines, []string{"error", "error", "error", "error", "error"}) {
		t.Errorf("got %+v", got)
	}
}

func TestCommandParentDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), 200*time.Millisecond, fmt.Errorf("triage deadline"))
	defer cancel()
	c := mustCompile(t, Spec{Command: &CommandSpec{Argv: []string{"/bin/sleep", "60"}, Timeout: confval.Duration(time.Minute)}})
	start := time.Now()
	got := Tail(ctx, c, nil, nil)
	if got.Error != "triage deadline" || time.Since(start) > 3*time.Second {
		t.Errorf("got %+v after %s", got, time.Since(start))
	}
}

// TestLabelsCannotInjectCommands is the safety line for commands: labels reach an argument only
// through allow, never a shell, never an option.
func TestLabelsCannotInjectCommands(t *testing.T) {
	dir := t.TempDir()
	touch := CommandSpec{Argv: []string{"/usr/bin/touch", "{{ .Labels.pod }}"}, Allow: `[a-z0-9][a-z0-9-]*`, Dir: dir}
	for _, pod := range []string{"x; rm -rf /", "$(id)", "`id`", "a && touch pwned", "a|touch pwned", "../pwned", "a\ntouch pwned", "--help", "-rf"} {
		got := run(t, touch, map[string]string{"pod": pod})
		if !strings.HasPrefix(got.Error, "target refused: ") || len(got.Lines) != 0 {
			t.Errorf("pod %q: %+v", pod, got)
		}
	}
	got := run(t, touch, map[string]string{})
	if !strings.Contains(got.Error, `target refused: filling template: `) {
		t.Errorf("missing label: %+v", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("something ran: %v", entries)
	}

	// Even a lax pattern runs no shell: the label is one argument, taken literally.
	lax := CommandSpec{Argv: []string{"/usr/bin/touch", "{{ .Labels.pod }}"}, Allow: `.+`, Dir: dir}
	if got := run(t, lax, map[string]string{"pod": "x; touch pwned"}); got.Error != "" {
		t.Fatalf("lax: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "x; touch pwned" {
		t.Errorf("files: %v", entries)
	}
	echo := CommandSpec{Argv: []string{"/bin/echo", "error {{ .Labels.pod }}"}, Allow: `.+`}
	if got := run(t, echo, map[string]string{"pod": "$(id) `id`"}); !equal(got.Lines, []string{"error $(id) `id`"}) {
		t.Errorf("echo: %+v", got)
	}
	// …and a lax pattern still cannot add an option: only the template's own text may start with "-".
	if got := run(t, lax, map[string]string{"pod": "--version"}); got.Error != `target refused: filled argument "--version" starts with '-' but its template does not` {
		t.Errorf("option: %+v", got)
	}
	opt := CommandSpec{Argv: []string{"/bin/echo", "--ns={{ .Labels.ns }}", "error"}, Allow: `--ns=[a-z]+`}
	if got := run(t, opt, map[string]string{"ns": "shop"}); !equal(got.Lines, []string{"--ns=shop error"}) || got.Source != "/bin/echo --ns=shop error" {
		t.Errorf("option from the template: %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("pwned exists")
	}
}

func TestLastBytes(t *testing.T) {
	w := &lastBytes{max: 5}
	for _, s := range []string{"ab", "cd", "ef", "0123456789", "x"} {
		w.Write([]byte(s))
	}
	if string(w.Bytes()) != "6789x" || w.dropped != 12 {
		t.Errorf("got %q, dropped %d", w.Bytes(), w.dropped)
	}
}
