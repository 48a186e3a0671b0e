package rules

import (
	"fmt"

	"github.com/triaged/triaged/internal/srcpos"
)

// Position is a place in a rule file: FILE:LINE:COL.
type Position = srcpos.Position

// Error is one problem found while loading a rule file. Loading reports all of them at once,
// joined with errors.Join, each printed as `FILE:LINE:COL: rule "NAME": message`. Its In names
// the rule the problem is in: `rule "NAME"`, or `rules[2]` while the rule has no name; "" when
// the problem is outside any rule. Unwrap gives expr's *file.Error with its line, column and
// snippet.
type Error = srcpos.Error

// Warning is a finding that does not stop a rule file from loading (a duplicate name, a rule that
// can never match, a missing default) but that `triagetool check rules` reports and fails on.
type Warning struct {
	Pos     Position
	Rule    string
	Message string
}

func (w Warning) String() string {
	if w.Rule == "" {
		return fmt.Sprintf("%s: %s", w.Pos, w.Message)
	}
	return fmt.Sprintf("%s: %s: %s", w.Pos, w.Rule, w.Message)
}

// RuleError is a rule that failed while an alert was evaluated, e.g. indexing past the end of a
// split label. The rule was skipped and evaluation went on with the next one.
type RuleError struct {
	Stage Stage
	Rule  string
	Err   error
}

func (e RuleError) Error() string {
	return fmt.Sprintf("%s rule %q: %v", e.Stage, e.Rule, e.Err)
}

func (e RuleError) Unwrap() error { return e.Err }

// ruleRef is how errors and warnings name a rule: by name once it has one, else by its place.
func ruleRef(stage Stage, index int, name string) string {
	if name != "" {
		return fmt.Sprintf("rule %q", name)
	}
	return fmt.Sprintf("%s[%d]", stage.listKey(), index)
}
