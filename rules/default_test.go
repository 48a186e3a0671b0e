package rules

import (
	"bytes"
	"os"
	"testing"
)

// TestDefaultRules guards the embedded rule file: it must load without lint warnings, be the
// file on disk, and pass its unit tests.
func TestDefaultRules(t *testing.T) {
	rs := Default()
	if ws := rs.Warnings(); len(ws) > 0 {
		t.Errorf("default rules have lint warnings: %v", ws)
	}
	onDisk, err := os.ReadFile(DefaultFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, DefaultRules()) {
		t.Error("embedded default rules differ from default.rules.yml")
	}
	if rs.fast == nil {
		t.Error("default rules were not compiled into one program")
	}

	res, err := RunTests("default.rules.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if res.Rules.Version() != rs.Version() {
		t.Errorf("test file tests version %s, embedded is %s", res.Rules.Version(), rs.Version())
	}
	for _, f := range res.Failures {
		t.Errorf("%s: case %q:\n  %v", f.Pos, f.Name, f.Diffs)
	}
	if res.Cases < 20 {
		t.Errorf("only %d cases", res.Cases)
	}
}
