// Package fuzzseed holds the hostile inputs of issue 9 that every loader of YAML people write
// (rule files, runbook front matter, the config) is fuzzed from, besides its own testdata: alias
// bombs, deep nesting, bytes that are not UTF-8, NUL bytes, bidi overrides, duplicate keys.
package fuzzseed

import (
	"errors"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/srcpos"
)

// YAML returns small hostile YAML documents, the fuzzers' seeds: the fuzzer mutates and, when
// one finds new code, minimizes them, which for inputs of many kilobytes takes most of its time.
func YAML() []string {
	return []string{
		laughs("rules"),
		laughs("labels"),
		"m: &m {a: b}\nk: {<<: [*m, *m, *m], <<: *m}\n",
		"a: *undefined\n",
		"a: &a [*a]\n",
		strings.Repeat("{a: ", 50) + "b" + strings.Repeat("}", 50),
		"a: \xff\xfe\n",
		"a: b\n\xc3",
		"a: \"\\xff\"\nb: \"\\uD800\"\n",
		"a: b\x00c\n",
		"a: \"nul\\0byte\"\n",
		"title: \"\u202eevil\u2066\"\nmatch: 'labels.a == \"\u202e\"'\n",
		"a: 1\na: 2\n",
		"rules:\n- name: a\n  name: b\n",
		"\ta: 1\n",
		"--- a\n--- b\n",
		"a: !!binary zz\nb: !!int x\nc: !custom 1\n",
		"? [a, b]\n: c\n",
		"'': 1\n~: 2\n",
	}
}

// LargeYAML returns the hostile YAML documents too large to seed a fuzzer with: deep nesting
// past the YAML library's bound, huge scalars, one alias used thousands of times. Tests run the
// fuzzers' checks on them.
func LargeYAML() []string {
	return []string{
		"x: &x {name: n, when: 'true', severity: P1}\nrules: [" + strings.Repeat("*x, ", 2000) + "*x]\n",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat("- ", 5000) + "x\n",
		strings.Repeat("{a: ", 500) + "b" + strings.Repeat("}", 500),
		"a: " + strings.Repeat("x", 256<<10) + "\n",
		"a: |\n" + strings.Repeat("  line\n", 2000),
	}
}

// laughs is the "billion laughs": nine levels of nine aliases each to the level below, 9^9
// strings once expanded, under key.
func laughs(key string) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		prev := "*l" + string(rune('0'+i-1))
		b.WriteString("l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [" + strings.Repeat(prev+", ", 8) + prev + "]\n")
	}
	b.WriteString(key + ": *l8\n")
	return b.String()
}

// CheckPlaced holds a refusal of a loader of hand-written files to its promise: one or more
// *srcpos.Error (joined), each at a line of file, with a message.
func CheckPlaced(t testing.TB, err error, file string) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var se *srcpos.Error
		switch {
		case !errors.As(e, &se):
			t.Fatalf("problem without a place: %v (%T)", e, e)
		case se.Pos.File != file || se.Pos.Line < 1:
			t.Fatalf("problem not placed at a line of %s: %q", file, e)
		case se.Err == nil || se.Err.Error() == "":
			t.Fatalf("problem without a message: %q", e)
		}
	}
}
