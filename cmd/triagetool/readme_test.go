package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/golden"
)

// readmeRoutesConfig is the README's routing example as a config file.
const readmeRoutesConfig = "testdata/config/readme-routes.yml"

// TestREADMERouteSample runs the `triagetool route` command the README shows, on the README's
// routing example, and compares its output with the sample printed under it: the sample is what
// the tool prints, not a hand-written likeness.
func TestREADMERouteSample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const fence = "```console\n"
	i := bytes.Index(readme, []byte(fence+"$ triagetool route "))
	if i < 0 {
		t.Fatal("README.md has no console block starting with $ triagetool route")
	}
	block, _, ok := strings.Cut(string(readme[i+len(fence):]), "```")
	if !ok {
		t.Fatal("README.md: the triagetool route block is not closed")
	}
	cmdLine, want, _ := strings.Cut(block, "\n")
	args := strings.Fields(strings.TrimPrefix(cmdLine, "$ triagetool "))
	for i, a := range args {
		switch {
		case a == "triaged.yml":
			args[i] = readmeRoutesConfig
		case strings.HasPrefix(a, "testdata/"):
			args[i] = "../../" + a // the README's paths are the repository's
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("triagetool %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	got := strings.ReplaceAll(stdout.String(), readmeRoutesConfig, "triaged.yml")
	if got != want {
		t.Errorf("README.md's sample of %s differs from the output (-README +output):\n%s", cmdLine, golden.Diff(want, got))
	}
}
