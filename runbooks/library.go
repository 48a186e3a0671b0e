package runbooks

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/exprpolicy"
	"github.com/triaged/triaged/internal/srcpos"
)

// EmbeddedDir is the path under which the embedded default runbooks appear in reports and
// errors: where they live in triaged's repository, so a reader can find them.
const EmbeddedDir = "runbooks/library"

//go:embed library/*.md
var embedded embed.FS

// Library is a compiled, immutable set of runbooks in match order. It is safe for concurrent use;
// a reload builds a new Library rather than changing one.
type Library struct {
	runbooks []*runbook
}

// source is one runbook file to load.
type source struct {
	path     string // as reports and errors show it
	data     []byte
	embedded bool
	// set numbers where the file comes from: 0 for the embedded library, i+1 for the i-th
	// configured directory. An id may be used once per set; a later set replaces it.
	set int
}

// Load builds a library from the embedded default runbooks plus the *.md files of each directory
// (not their subdirectories; a README.md is documentation, not a runbook). A runbook's id is its
// file name without .md unless its front matter sets one; a runbook with the id of an earlier one
// (an embedded one, or one of an earlier directory) replaces it. Every problem of every file is
// reported at once, joined with errors.Join, each an *Error; on any problem no library is
// returned. With no directories Load returns Default().
func Load(dirs ...string) (*Library, error) {
	if len(dirs) == 0 {
		return Default(), nil
	}
	sources, err := embeddedSources()
	if err != nil {
		return nil, err
	}
	var errs []error
	for i, dir := range dirs {
		s, err := dirSources(dir, i+1)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sources = append(sources, s...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return build(sources)
}

// defaultLibrary compiles the embedded runbooks on first use, not at program start.
var defaultLibrary = sync.OnceValue(func() *Library {
	sources, err := embeddedSources()
	if err == nil {
		var l *Library
		if l, err = build(sources); err == nil {
			return l
		}
	}
	// A test loads the embedded library; this cannot happen in a released binary.
	panic(fmt.Sprintf("embedded runbooks: %v", err))
})

// Default returns the library triaged uses when no runbook directory is configured: the embedded
// runbooks/library/*.md (service-down, high-cpu, database-slow and the general-triage fallback).
func Default() *Library { return defaultLibrary() }

func embeddedSources() ([]source, error) {
	entries, err := fs.ReadDir(embedded, "library")
	if err != nil {
		return nil, fmt.Errorf("read embedded runbooks: %w", err)
	}
	var sources []source
	for _, e := range entries {
		data, err := fs.ReadFile(embedded, "library/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read embedded runbook %s: %w", e.Name(), err)
		}
		sources = append(sources, source{path: EmbeddedDir + "/" + e.Name(), data: data, embedded: true})
	}
	return sources, nil
}

// dirSources reads the runbooks of one configured directory, in file name order.
func dirSources(dir string, set int) ([]source, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read runbook directory: %w", err)
	}
	var sources []source
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".md") || strings.EqualFold(name, "README.md") {
			continue
		}
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read runbook: %w", err))
			continue
		}
		sources = append(sources, source{path: p, data: data, set: set})
	}
	return sources, errors.Join(errs...)
}

// build compiles sources, in order, into a library, or reports every problem found in any of
// them.
func build(sources []source) (*Library, error) {
	var errs []error
	var list []*runbook
	byID := map[string]int{}  // id → index in list
	setOf := map[string]int{} // id → the set that defined it, to catch duplicates within one
	for _, src := range sources {
		rb, fileErrs := parseFile(src.path, idFromFile(src.path), src.data)
		errs = append(errs, fileErrs...)
		if rb == nil {
			continue
		}
		rb.embedded = src.embedded
		i, seen := byID[rb.id]
		switch {
		case !seen:
			byID[rb.id], setOf[rb.id] = len(list), src.set
			list = append(list, rb)
		case setOf[rb.id] == src.set:
			errs = append(errs, srcpos.Errorf(Position{File: src.path, Line: 1, Column: 1}, ref(rb.title),
				"id %q already used by %s in the same directory", rb.id, list[i].path))
		default:
			rb.overrides = list[i].path
			list[i], setOf[rb.id] = rb, src.set
		}
	}
	if len(errs) > 0 {
		files := make([]string, len(sources))
		for i, src := range sources {
			files[i] = src.path
		}
		srcpos.Sort(errs, files)
		return nil, errors.Join(errs...)
	}
	slices.SortStableFunc(list, compareRunbooks)
	return &Library{runbooks: list}, nil
}

// compareRunbooks is the match order: higher priority first; at equal priority a configured
// runbook before an embedded one (it was written for this installation); then by id, so the
// order never depends on file system order.
func compareRunbooks(a, b *runbook) int {
	return cmp.Or(
		cmp.Compare(b.priority, a.priority),
		compareBool(a.embedded, b.embedded),
		cmp.Compare(a.id, b.id),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// Info describes one runbook of a library, for listings, `triagetool` and tests.
type Info struct {
	ID    string
	Title string
	// Path is the file as reports show it: runbooks/library/NAME.md for an embedded runbook, the
	// file's path for a configured one.
	Path         string
	URL          string
	Match        string
	Priority     int
	SeverityHint triaged.Severity // 0 when the runbook gives none
	Steps        []string
	Embedded     bool
	// Overrides is the path of the runbook this one replaced, "" when it replaced none.
	Overrides string
}

// Runbooks lists the library's runbooks in match order.
func (l *Library) Runbooks() []Info {
	if l == nil {
		return nil
	}
	infos := make([]Info, len(l.runbooks))
	for i, rb := range l.runbooks {
		infos[i] = Info{
			ID: rb.id, Title: rb.title, Path: rb.path, URL: rb.url, Match: rb.matchText,
			Priority: rb.priority, SeverityHint: rb.severity, Steps: slices.Clone(rb.steps),
			Embedded: rb.embedded, Overrides: rb.overrides,
		}
	}
	return infos
}

// Result is the outcome of matching an incident against a library.
type Result struct {
	// Runbook is the chosen runbook, a copy the caller may change; nil when none matched.
	Runbook *triaged.Runbook
	// ID is the chosen runbook's id, "" when none matched.
	ID string
	// SeverityHint is the chosen runbook's severity suggestion, 0 when it gives none. It is shown
	// to the reader; the severity rules decide the severity.
	SeverityHint triaged.Severity
	// Reasons say why: which runbook matched and by what expression, which others matched too,
	// and which were skipped.
	Reasons []string
	// Errors are the runbooks whose match expression failed for this incident; they were skipped.
	Errors []MatchError
}

// maxReasonLen keeps a reason to one readable line however long the expression it quotes.
const maxReasonLen = 240

// Find matches an incident against every runbook of the library and picks the first that
// matches in match order: highest priority, then configured before embedded, then id. A runbook
// whose expression fails at run time is skipped and named in Errors and Reasons; Find never
// panics. A nil library finds nothing.
func (l *Library) Find(in Input) Result {
	var res Result
	if l == nil {
		res.Reasons = []string{"no runbook library"}
		return res
	}
	env := newEnv(in)
	m := exprpolicy.Borrow()
	defer exprpolicy.Return(m)

	var chosen *runbook
	for _, rb := range l.runbooks {
		ok, err := run(m, rb.program, env)
		switch {
		case err != nil:
			res.Errors = append(res.Errors, MatchError{ID: rb.id, Path: rb.path, Err: err})
			res.Reasons = append(res.Reasons, fmt.Sprintf("skipped %q: its match failed: %s", rb.id, exprpolicy.Headline(err)))
		case !ok:
		case chosen == nil:
			chosen = rb
			res.Reasons = append(res.Reasons, clip(fmt.Sprintf("matched %q (priority %d): %s", rb.id, rb.priority, flatten(rb.matchText))))
		default:
			res.Reasons = append(res.Reasons, fmt.Sprintf("also matched %q (priority %d), later in match order", rb.id, rb.priority))
		}
	}
	if chosen == nil {
		res.Reasons = append(res.Reasons, fmt.Sprintf("no runbook matched (%d tried)", len(l.runbooks)))
		return res
	}
	res.ID, res.SeverityHint = chosen.id, chosen.severity
	res.Runbook = &triaged.Runbook{Title: chosen.title, Path: chosen.path, URL: chosen.url, Steps: slices.Clone(chosen.steps)}
	if chosen.severity != 0 {
		res.Reasons = append(res.Reasons, fmt.Sprintf("runbook %q suggests severity %s (a hint; the severity rules decide)", chosen.id, chosen.severity))
	}
	return res
}

// Match returns the runbook for an incident and why it was chosen (see Find); nil when no
// runbook matched, which with the default general-triage runbook in the library does not happen.
func (l *Library) Match(in Input) (*triaged.Runbook, []string) {
	res := l.Find(in)
	return res.Runbook, res.Reasons
}

func clip(s string) string {
	if len(s) <= maxReasonLen {
		return s
	}
	cut := maxReasonLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
