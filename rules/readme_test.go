package rules

import (
	"os"
	"strings"
	"testing"
	_ "time/tzdata" // the README's test file example uses Europe/Berlin
)

// yamlBlocks returns the ```yaml blocks of a Markdown file.
func yamlBlocks(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, part := range strings.Split(string(data), "```yaml\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		blocks = append(blocks, block)
	}
	return blocks
}

// TestReadmeExamples keeps the documentation honest: the example rule file loads without errors
// or warnings, the example test file passes against the default rules, and the example
// escalation on metrics and its test are the files the tests run (TestMetricsUnitTestFiles).
func TestReadmeExamples(t *testing.T) {
	blocks := yamlBlocks(t, "README.md")
	if len(blocks) != 4 {
		t.Fatalf("%d yaml blocks in README.md, want the rule file, the metrics escalation and its test, and the test file", len(blocks))
	}
	rs, err := Parse("README.md", []byte(blocks[0]))
	if err != nil {
		t.Fatalf("the example rule file: %v", err)
	}
	if ws := rs.Warnings(); len(ws) > 0 {
		t.Errorf("the example rule file has warnings: %v", ws)
	}

	for i, file := range []string{"testdata/metrics-escalation.rules.yml", "testdata/unittest/metrics-escalation.test.yml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if blocks[1+i] != string(data) {
			t.Errorf("README.md's example differs from %s:\n%s", file, blocks[1+i])
		}
	}

	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, string(DefaultRules()))
	res, err := RunTests(writeFile(t, dir, "example.test.yml", blocks[3]))
	if err != nil {
		t.Fatalf("the example test file: %v", err)
	}
	for _, f := range res.Failures {
		t.Errorf("the example test file: %s: %v", f.Name, f.Diffs)
	}
}
