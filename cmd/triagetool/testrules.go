package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/triaged/triaged/rules"
)

// testRules runs rule unit test files: "Unit Testing: FILE", then "  SUCCESS: ..." or "  FAILED:"
// with, per failing case, its position, name and a got/want line for each difference.
func testRules(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("test rules", "TESTFILE...", stderr)
	files, code, ok := parseFiles(fs, args)
	if !ok {
		return code
	}

	failed := false
	for _, file := range files {
		fmt.Fprintf(stdout, "Unit Testing: %s\n", file)
		res, err := rules.RunTests(file)
		if err != nil {
			failed = true
			printFailed(stderr, "", err)
			continue
		}
		if len(res.Failures) == 0 {
			fmt.Fprintf(stdout, "  SUCCESS: %d cases passed (rules %s)\n\n", res.Cases, res.Rules.Version())
			continue
		}
		failed = true
		printFailed(stderr, fmt.Sprintf("%d of %d cases (rules %s)", len(res.Failures), res.Cases, res.Rules.Version()), caseFailures(res.Failures))
	}
	if failed {
		return exitFailure
	}
	return exitOK
}

// caseFailures makes each failing case a problem for printFailed: its position and name, then
// a line per difference below it. A rule error carries expr's snippet on further lines; they stay
// with their difference.
func caseFailures(failures []rules.TestFailure) error {
	errs := make([]error, len(failures))
	for i, f := range failures {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: case %q:", f.Pos, f.Name)
		for _, d := range f.Diffs {
			b.WriteString("\n    " + strings.ReplaceAll(d, "\n", "\n    "))
		}
		errs[i] = errors.New(b.String())
	}
	return errors.Join(errs...)
}
