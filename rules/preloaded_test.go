package rules_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged/rules"
)

// The daemon serves the rule set its config check loaded, not a second read of the files, which
// may have changed in between; a reload reads the files.
func TestNewEngineServesTheLoadedRules(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.yml")
	if err := os.WriteFile(file, []byte("default: P2\nrules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := rules.LoadFiles(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("default: P3\nrules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := rules.NewEngine([]string{file}, rules.EngineOptions{Registerer: prometheus.NewRegistry(), Rules: loaded})
	if err != nil {
		t.Fatal(err)
	}
	if e.Current() != loaded {
		t.Fatalf("engine serves rules %s, want the loaded %s", e.Current().Version(), loaded.Version())
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if e.Current().Version() == loaded.Version() {
		t.Error("reload did not read the files again")
	}
}
