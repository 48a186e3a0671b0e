// Package srcpos is a place in a file people edit (rule files, runbooks), printed the way editors
// and CI annotations read it: FILE:LINE:COL.
package srcpos

import "strconv"

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
