package logtail

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestRequired(t *testing.T) {
	cases := []struct {
		pattern string
		want    []string // sorted; nil: no first test
	}{
		{DefaultFilter, []string{"crit", "emerg", "err", "exception", "fail", "fatal", "panic", "time", "traceback"}},
		{`(?i)level=(error|fatal)`, []string{"level="}},
		{`ERROR`, []string{"error"}},
		{`a+b{2,}`, []string{"a"}},
		{`.`, nil},
		{`.*`, nil},
		{`error|.`, nil},
		{`(?i)x?`, nil},
		{`[0-9]+ms`, []string{"ms"}},
		{`(?i)kelvin`, []string{"kelvin"}}, // "\u212aelvin" matches too: non-ASCII lines skip the first test
		{`(?i)straße`, nil},                // a non-ASCII literal: no first test at all
	}
	for _, c := range cases {
		f, err := newFilter(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(f.need)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("required(%q) = %q, want %q", c.pattern, got, c.want)
		}
	}
}

// TestFilterAgreesWithRegexp: the first test may only say no where the pattern says no.
func TestFilterAgreesWithRegexp(t *testing.T) {
	patterns := []string{DefaultFilter, `(?i)level=(error|fatal)`, `ERROR`, `(?i)time(out|d out)`, `a+b{2,}`, `(?i)kelvin`, `(?i)s+`}
	words := []string{"error", "ERROR", "Err", "errors", "fatal", "FAILED", "failure", "timeout", "Timed Out", "panic:", "level=error",
		"level=ERROR", "ok", "info", "x", "aab", "abb", "kelvin", "\u212aelvin", "ſ", "é", " ", "=", ":", "exception", "CRITICAL", "terror"}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range patterns {
		f, err := newFilter(p)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(p)
		for range 20000 {
			var parts []string
			for range rng.IntN(6) {
				parts = append(parts, words[rng.IntN(len(words))])
			}
			sep := []string{" ", "", "-"}[rng.IntN(3)]
			line := strings.Join(parts, sep)
			if got, want := f.MatchString(line), re.MatchString(line); got != want {
				t.Fatalf("pattern %q, line %q: filter %v, regexp %v", p, line, got, want)
			}
		}
	}
}
