package runbooks

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/expr-lang/expr/file"
)

// errorList returns the individual messages of a joined error.
func errorList(err error) []string {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []string{err.Error()}
	}
	var msgs []string
	for _, e := range joined.Unwrap() {
		msgs = append(msgs, e.Error())
	}
	return msgs
}

// TestBadFiles holds every testdata/*.bad.md to its complete list of errors, in file order: a
// file's problems are all reported in one pass, each at FILE:LINE:COL, and expr's caret snippet
// is kept. The position of an expression error is where the match text starts; expr's own
// (line:column) counts from there.
func TestBadFiles(t *testing.T) {
	want := map[string][]string{
		"missing-title.bad.md": {
			"testdata/missing-title.bad.md:1:1: missing title",
		},
		"empty.bad.md": {
			"testdata/empty.bad.md:1:1: missing title",
			"testdata/empty.bad.md:1:1: missing match: an expression saying which alerts the runbook is for (true for all)",
		},
		"bad-expr.bad.md": {
			"testdata/bad-expr.bad.md:3:8: runbook \"Bad expression\": match: unknown name lables (1:21)\n | alertname == \"X\" && lables.team == \"db\"\n | ....................^",
		},
		"unknown-key.bad.md": {
			"testdata/unknown-key.bad.md:4:1: runbook \"Unknown keys\": unknown key \"severty\": want id, title, match, severity, priority or url",
			"testdata/unknown-key.bad.md:5:1: runbook \"Unknown keys\": unknown key \"runbook_url\": want id, title, match, severity, priority or url",
		},
		"not-boolean.bad.md": {
			"testdata/not-boolean.bad.md:3:8: runbook \"Not a condition\": match: must yield true or false: expected bool, but got string",
		},
		"bad-severity.bad.md": {
			"testdata/bad-severity.bad.md:4:11: runbook \"Bad severity\": severity: invalid severity hint \"critical\": want one of P1, P2, P3, P4",
		},
		"no-front-matter.bad.md": {
			"testdata/no-front-matter.bad.md:1:1: no front matter: a runbook starts with a line \"---\", then YAML with title and match, then a line \"---\"",
		},
		"unclosed.bad.md": {
			"testdata/unclosed.bad.md:1:1: front matter not closed: no line \"---\" after the opening one",
		},
		"syntax.bad.md": {
			"testdata/syntax.bad.md:3: invalid YAML in front matter: mapping values are not allowed in this context",
		},
		"not-a-mapping.bad.md": {
			"testdata/not-a-mapping.bad.md:2:1: front matter must be a mapping with the keys id, title, match, severity, priority or url",
		},
		"values.bad.md": {
			"testdata/values.bad.md:2:5: runbook \"Bad values\": id: invalid id \"Checkout Down\": want lowercase letters, digits, '.', '_' and '-', e.g. checkout-down",
			"testdata/values.bad.md:4:8: runbook \"Bad values\": match: the pattern of matches must be a string literal (it is compiled once, at load time) (1:26)\n | alertname matches labels.pattern\n | .........................^",
			"testdata/values.bad.md:5:11: runbook \"Bad values\": priority: invalid priority \"high\": want a whole number; the highest matching priority wins",
			"testdata/values.bad.md:6:6: runbook \"Bad values\": url: invalid URL \"wiki/checkout\": want an absolute http or https URL",
			"testdata/values.bad.md:7:1: runbook \"Bad values\": key \"title\" already set on line 3",
			"testdata/values.bad.md:8:11: runbook \"Bad values\": severity must be a string, not a list",
		},
		// Block scalars: the position is the block's first line, expr's (line:column) is within it.
		"block.bad.md": {
			"testdata/block.bad.md:4:3: runbook \"Block scalar\": match: unexpected token Operator(\"=\") (2:22)\n |   && labels.severity = \"critical\"\n | .....................^",
		},
		// A runbook sees its Env only: no clock, no process environment.
		"sandbox.bad.md": {
			"testdata/sandbox.bad.md:3:8: runbook \"Reads the clock\": match: unknown name now (1:1)\n | now().Hour() > 9 && env(\"HOME\") != \"\"\n | ^",
		},
		"regex.bad.md": {
			"testdata/regex.bad.md:3:8: runbook \"Broken regular expression\": match: error parsing regexp: missing closing ): `Disk(` (1:11)\n | alertname matches \"Disk(\"\n | ..........^",
		},
		// Lists in code blocks are not steps.
		"no-steps.bad.md": {
			"testdata/no-steps.bad.md:4:1: runbook \"Nothing to show\": no steps and no url: the report would show a bare title; write the first steps as a list (see \"First steps\" in the runbooks README)",
		},
	}
	files, err := filepath.Glob("testdata/*.bad.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if _, ok := want[name]; !ok {
			t.Errorf("%s has no expected errors in this table", name)
		}
	}
	for name, wantErrs := range want {
		t.Run(name, func(t *testing.T) {
			path := "testdata/" + name
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lib, err := build([]source{{path: path, data: data}})
			if err == nil {
				t.Fatalf("loaded %d runbooks, want errors", len(lib.runbooks))
			}
			if lib != nil {
				t.Errorf("got a library with the errors: a bad file must not be half-applied")
			}
			if got := errorList(err); !slices.Equal(got, wantErrs) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantErrs, "\n"))
			}
			for _, e := range errorList(err) {
				if !strings.HasPrefix(e, path+":") {
					t.Errorf("error does not start with the file name: %s", e)
				}
			}
		})
	}
}

// TestErrorsAreTyped lets a tool find the position and expr's error without parsing text.
func TestErrorsAreTyped(t *testing.T) {
	data, _ := os.ReadFile("testdata/bad-expr.bad.md")
	_, err := build([]source{{path: "bad-expr.bad.md", data: data}})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an *Error", err)
	}
	if e.Pos != (Position{File: "bad-expr.bad.md", Line: 3, Column: 8}) || e.In != `runbook "Bad expression"` {
		t.Errorf("got %+v", e)
	}
	var fe *file.Error
	if !errors.As(err, &fe) || fe.Line != 1 || fe.Column != 20 {
		t.Errorf("expr's error with its position is not reachable: %#v", fe)
	}
}

// TestLoadReportsEveryFile: the errors of all files of all directories come back in one pass,
// ordered by file, and nothing is loaded.
func TestLoadReportsEveryFile(t *testing.T) {
	one, two := t.TempDir(), t.TempDir()
	copyFile(t, "testdata/bad-severity.bad.md", filepath.Join(one, "b.md"))
	copyFile(t, "testdata/missing-title.bad.md", filepath.Join(one, "a.md"))
	copyFile(t, "testdata/override/checkout-down.md", filepath.Join(one, "good.md"))
	copyFile(t, "testdata/not-boolean.bad.md", filepath.Join(two, "c.md"))

	lib, err := Load(one, two)
	if lib != nil || err == nil {
		t.Fatalf("Load = %v, %v; want no library and errors", lib, err)
	}
	got := errorList(err)
	want := []string{
		filepath.Join(one, "a.md") + ":1:1: missing title",
		filepath.Join(one, "b.md") + ":4:11: runbook \"Bad severity\": severity: invalid severity hint \"critical\": want one of P1, P2, P3, P4",
		filepath.Join(two, "c.md") + ":3:8: runbook \"Not a condition\": match: must yield true or false: expected bool, but got string",
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadMissingDirectory(t *testing.T) {
	_, err := Load("testdata/override", "testdata/no-such-dir")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "testdata/no-such-dir") {
		t.Errorf("Load of a missing directory: %v", err)
	}
}

// TestDuplicateIDInOneDirectory: within one directory an id names one runbook; which of two
// would win is not something to leave to file name order.
func TestDuplicateIDInOneDirectory(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "testdata/override/cpu.md", filepath.Join(dir, "cpu.md"))
	copyFile(t, "testdata/override/cpu.md", filepath.Join(dir, "high-cpu.md"))
	_, err := Load(dir)
	want := filepath.Join(dir, "high-cpu.md") + ":1:1: runbook \"CPU saturation\": id \"high-cpu\" already used by " + filepath.Join(dir, "cpu.md") + " in the same directory"
	if got := errorList(err); !slices.Equal(got, []string{want}) {
		t.Errorf("errors %q, want %q", got, want)
	}
}

// TestEmbeddedLibraryLoads keeps Default from panicking in a released binary.
func TestEmbeddedLibraryLoads(t *testing.T) {
	sources, err := embeddedSources()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := build(sources); err != nil {
		t.Fatalf("embedded library: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
