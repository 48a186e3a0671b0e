package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/triaged/triaged/rules"
)

// testRules runs rule unit test files: "Unit Testing: FILE", then "  SUCCESS: ..." or "  FAILED:"
// with, per failing case, its position, name and a got/want line for each difference.
func testRules(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("test rules", "TESTFILE...", stderr)
	files, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	if len(files) == 0 {
		fs.Usage()
		return exitUsage
	}

	failed := false
	for _, file := range files {
		fmt.Fprintf(stdout, "Unit Testing: %s\n", file)
		res, err := rules.RunTests(file)
		if err != nil {
			failed = true
			fmt.Fprintln(stderr, "  FAILED:")
			printErrors(stderr, err, "    ")
			fmt.Fprintln(stderr)
			continue
		}
		if len(res.Failures) == 0 {
			fmt.Fprintf(stdout, "  SUCCESS: %d cases passed (rules %s)\n\n", res.Cases, res.Rules.Version())
			continue
		}
		failed = true
		fmt.Fprintf(stderr, "  FAILED: %d of %d cases (rules %s)\n", len(res.Failures), res.Cases, res.Rules.Version())
		for _, f := range res.Failures {
			fmt.Fprintf(stderr, "    %s: case %q:\n", f.Pos, f.Name)
			for _, d := range f.Diffs {
				// A rule error carries expr's snippet on further lines; keep them in the block.
				fmt.Fprintf(stderr, "        %s\n", strings.ReplaceAll(d, "\n", "\n        "))
			}
		}
		fmt.Fprintln(stderr)
	}
	if failed {
		return exitFailure
	}
	return exitOK
}
