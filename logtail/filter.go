package logtail

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// filter is a line filter with a cheap first test. Go's regexp engine costs microseconds per
// line for a case-insensitive alternation like DefaultFilter, which makes scanning a megabyte of
// log tens of milliseconds; most lines do not contain any of the words the pattern needs, and a
// substring test on them is ten times cheaper.
type filter struct {
	re *regexp.Regexp
	// need holds lower-case strings one of which every match contains, nil if unknown.
	need []string
}

func newFilter(pattern string) (*filter, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	f := &filter{re: re}
	if tree, err := syntax.Parse(pattern, syntax.Perl); err == nil {
		f.need = required(tree)
		for _, s := range f.need {
			// Unicode case folding joins some non-ASCII letters to ASCII ones (the Kelvin sign
			// and k): lowercasing cannot decide those, so such patterns skip the first test.
			if !isASCII(s) {
				f.need = nil
				break
			}
		}
	}
	return f, nil
}

// MatchString reports whether the line passes the filter.
func (f *filter) MatchString(s string) bool {
	// The substring test is sound for ASCII lines only, for the same folding reason.
	if f.need != nil && isASCII(s) && !containsAny(strings.ToLower(s), f.need) {
		return false
	}
	return f.re.MatchString(s)
}

func (f *filter) String() string { return f.re.String() }

// required returns lower-case strings one of which every match of re contains, or nil when it
// cannot tell. Lower-casing makes it a necessary condition for case-sensitive and -insensitive
// literals alike.
func required(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return nil
		}
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		// Every part of a concatenation is needed; the one with the longest strings tests best.
		var best []string
		for _, sub := range re.Sub {
			if s := required(sub); s != nil && (best == nil || shortest(s) > shortest(best)) {
				best = s
			}
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			s := required(sub)
			if s == nil {
				return nil
			}
			all = append(all, s...)
		}
		return all
	}
	return nil
}

func shortest(ss []string) int {
	n := len(ss[0])
	for _, s := range ss[1:] {
		n = min(n, len(s))
	}
	return n
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
