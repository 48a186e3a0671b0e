package exprpolicy

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
)

// MaxSplit is the most parts split() and splitAfter() may yield: a predicate over them runs once
// per part, and expr's memory budget does not count them. More parts fail the evaluation.
const MaxSplit = 1000

// boundedSplit replaces expr's split and splitAfter with versions that never yield more than
// MaxSplit parts (nor allocate them): a label of a million commas cannot make a rule loop a
// million times.
func boundedSplit() []expr.Option {
	bounded := func(name string, fn func(s, sep string, n int) []string) expr.Option {
		return expr.Function(name, func(args ...any) (any, error) {
			s, sep := args[0].(string), args[1].(string)
			n := MaxSplit + 1
			if len(args) == 3 {
				if want, ok := args[2].(int); ok && want >= 0 && want <= MaxSplit {
					n = want
				}
			}
			parts := fn(s, sep, n)
			if len(parts) > MaxSplit {
				return nil, fmt.Errorf("%s() yields more than %d parts", name, MaxSplit)
			}
			return parts, nil
		}, new(func(string, string) []string), new(func(string, string, int) []string))
	}
	return []expr.Option{bounded("split", strings.SplitN), bounded("splitAfter", strings.SplitAfterN)}
}
