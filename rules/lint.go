package rules

import (
	"fmt"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/srcpos"
)

// lint finds what loads but is probably a mistake:
//   - two rules with one name (metrics, reports and unit tests name rules);
//   - classification rules that can never decide: their condition is always false, an earlier
//     rule always matches, or an earlier rule has the same condition (first match wins);
//   - escalation rules that can never raise the severity (P4 is the lowest);
//   - no default severity, so FallbackSeverity applies.
func lint(rs *RuleSet) []Warning {
	var ws []Warning
	warn := func(r *rule, format string, args ...any) {
		ws = append(ws, Warning{Pos: r.pos, Rule: r.ref(), Message: fmt.Sprintf(format, args...)})
	}

	seen := map[string]*rule{}
	for _, r := range append(rs.rules[:len(rs.rules):len(rs.rules)], rs.escalations...) {
		if first, dup := seen[r.name]; dup {
			warn(r, "duplicate name: also the name of the rule at %s", first.pos)
			continue
		}
		seen[r.name] = r
	}

	var catchAll *rule
	conditions := map[string]*rule{}
	for _, r := range rs.rules {
		switch {
		case catchAll != nil:
			warn(r, "never matches: rule %q at %s always matches before it", catchAll.name, catchAll.pos)
		case r.constant != nil && !*r.constant:
			warn(r, "never matches: its condition is always false")
		case conditions[r.condition] != nil:
			first := conditions[r.condition]
			warn(r, "never matches: rule %q at %s has the same condition and comes first", first.name, first.pos)
		}
		if r.constant != nil && *r.constant && catchAll == nil {
			catchAll = r
		}
		if conditions[r.condition] == nil {
			conditions[r.condition] = r
		}
	}

	for _, r := range rs.escalations {
		switch {
		case r.constant != nil && !*r.constant:
			warn(r, "never matches: its condition is always false")
		case r.severityLiteral == triaged.P4:
			warn(r, "never raises the severity: P4 is the lowest")
		}
	}

	// In file order, then line order, as an editor would list them.
	srcpos.SortFunc(ws, rs.files, func(w Warning) (Position, bool) { return w.Pos, true })

	if rs.defaultPos == (Position{}) {
		var pos Position
		if len(rs.files) > 0 {
			pos.File = rs.files[0]
		}
		ws = append(ws, Warning{Pos: pos, Message: fmt.Sprintf("no default severity: alerts no rule matches get %s; set e.g. default: P3", FallbackSeverity)})
	}
	return ws
}
