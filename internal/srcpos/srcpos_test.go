package srcpos

import (
	"errors"
	"slices"
	"testing"
)

func TestError(t *testing.T) {
	e := Errorf(Position{File: "a.yml", Line: 3, Column: 5}, `rule "x"`, "when: %w", errors.New("bad"))
	if got := e.Error(); got != `a.yml:3:5: rule "x": when: bad` {
		t.Errorf("Error() = %q", got)
	}
	if got := Errorf(Position{File: "a.yml", Line: 3}, "", "bad").Error(); got != "a.yml:3: bad" {
		t.Errorf("Error() = %q", got)
	}
	if errors.Unwrap(e) == nil || errors.Unwrap(errors.Unwrap(e)).Error() != "bad" {
		t.Error("the cause is not reachable")
	}
}

// TestSort: files in the order given (not by name), then line and column; errors with no
// position first.
func TestSort(t *testing.T) {
	at := func(file string, line, col int) error {
		return Errorf(Position{File: file, Line: line, Column: col}, "", "x")
	}
	errs := []error{at("b", 1, 1), at("a", 2, 1), errors.New("read a: denied"), at("a", 1, 9), at("b", 1, 1), at("a", 1, 2)}
	Sort(errs, []string{"b", "a"})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{"read a: denied", "b:1:1: x", "b:1:1: x", "a:1:2: x", "a:1:9: x", "a:2:1: x"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
