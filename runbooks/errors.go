package runbooks

import (
	"fmt"

	"github.com/triaged/triaged/internal/srcpos"
)

// Position is a place in a runbook file: FILE:LINE:COL.
type Position = srcpos.Position

// Error is one problem found while loading a runbook file. Load reports all of them at once,
// joined with errors.Join, each printed as `FILE:LINE:COL: runbook "TITLE": message` (without the
// runbook part while the file has no title to name it by). Its In is `runbook "TITLE"`, "" before
// a title could be read. Unwrap gives expr's *file.Error with its line, column and snippet.
type Error = srcpos.Error

// ref is how errors name a runbook: by its title, or not at all before it has one.
func ref(title string) string {
	if title == "" {
		return ""
	}
	return fmt.Sprintf("runbook %q", title)
}

// MatchError is a runbook whose match expression failed for an incident, e.g. int() of a label
// that is not a number. That runbook was skipped and matching went on with the others.
type MatchError struct {
	ID   string
	Path string
	Err  error
}

func (e MatchError) Error() string {
	return fmt.Sprintf("runbook %q (%s): match: %v", e.ID, e.Path, e.Err)
}

func (e MatchError) Unwrap() error { return e.Err }
