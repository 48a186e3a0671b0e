// Package srcpos is a place in a file people edit (rule files, runbooks), printed the way editors
// and CI annotations read it: FILE:LINE:COL, and the error every loader of such files reports a
// problem with.
package srcpos

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Position is 1-based line and column, as editors count them. A zero Line or Column is left out
// when printed.
type Position struct {
	File   string
	Line   int
	Column int
}

// String returns "FILE:LINE:COL".
func (p Position) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
		if p.Column > 0 {
			s += ":" + strconv.Itoa(p.Column)
		}
	}
	return s
}

// Error is one problem found while loading a file, printed as `FILE:LINE:COL: IN: message`.
// Loaders report all the problems of a load at once, joined with errors.Join.
type Error struct {
	Pos Position
	// In names what the problem is in, as the message shows it: `rule "db-down"`, `rules[2]`,
	// `runbook "Service down"`; "" when the problem is outside any such part.
	In  string
	Err error
}

// Errorf returns an *Error at pos.
func Errorf(pos Position, in, format string, args ...any) *Error {
	return &Error{Pos: pos, In: in, Err: fmt.Errorf(format, args...)}
}

func (e *Error) Error() string {
	if e.In == "" {
		return fmt.Sprintf("%s: %v", e.Pos, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Pos, e.In, e.Err)
}

// Unwrap gives access to the cause, e.g. expr's *file.Error with its line, column and snippet.
func (e *Error) Unwrap() error { return e.Err }

// Sort orders errors as an editor lists problems: by file in the order files names them, then
// by line and column. Errors that are not an *Error come first, in their order.
func Sort(errs []error, files []string) {
	SortFunc(errs, files, func(err error) (Position, bool) {
		var e *Error
		if !errors.As(err, &e) {
			return Position{}, false
		}
		return e.Pos, true
	})
}

// SortFunc is Sort for anything with a position, such as warnings; pos reports false for an
// item that has none, which then comes first. The sort is stable.
func SortFunc[T any](items []T, files []string, pos func(T) (Position, bool)) {
	fileIndex := make(map[string]int, len(files))
	for i, f := range files {
		fileIndex[f] = i
	}
	key := func(item T) (int, int, int) {
		p, ok := pos(item)
		if !ok {
			return -1, 0, 0
		}
		return fileIndex[p.File], p.Line, p.Column
	}
	slices.SortStableFunc(items, func(a, b T) int {
		af, al, ac := key(a)
		bf, bl, bc := key(b)
		return cmp.Or(cmp.Compare(af, bf), cmp.Compare(al, bl), cmp.Compare(ac, bc))
	})
}
