package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/triaged/triaged/internal/fuzzseed"
)

// FuzzParse: a rule file is refused with every problem placed at FILE:LINE(:COL) of that file,
// or compiled into a rule set that the daemon can use.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	more, _ := filepath.Glob("testdata/unittest/*.yml")
	for _, name := range append(append(files, more...), "default.rules.yml") {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range fuzzseed.YAML() {
		f.Add([]byte(s))
	}
	f.Add([]byte("rules:\n- name: big\n  when: repeat(labels.x, 1000000) == \"y\"\n  severity: P1\n"))
	f.Add([]byte("rules:\n- name: \"\\u202eevil\"\n  when: labels.a == \"\\0\"\n  severity: P1\n  labels: {a: \"\\xff\"}\n"))
	f.Fuzz(checkRuleFile)
}

// TestParseLargeHostileFiles holds the hostile inputs too large to seed the fuzzer with (it would spend its
// time minimizing them) to its checks.
func TestParseLargeHostileFiles(t *testing.T) {
	for _, s := range fuzzseed.LargeYAML() {
		checkRuleFile(t, []byte(s))
	}
}

func checkRuleFile(t *testing.T, data []byte) {
	t.Helper()
	const file = "fuzz.rules.yml"
	rs, err := Parse(file, data)
	if err != nil {
		if rs != nil {
			t.Errorf("refused with %v, yet returned a rule set", err)
		}
		fuzzseed.CheckPlaced(t, err, file)
		return
	}
	if sev := rs.DefaultSeverity(); !sev.Valid() {
		t.Fatalf("accepted with the default severity %v", sev)
	}
	for _, stage := range []Stage{StageClassify, StageEscalate} {
		for _, r := range rs.Rules(stage) {
			if r.Name == "" {
				t.Fatalf("accepted a %s rule without a name: %+v", stage, r)
			}
		}
	}
	for _, w := range rs.Warnings() {
		if w.Pos.File != file || w.Message == "" {
			t.Fatalf("warning not placed in the file: %s", w)
		}
	}
}
