package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/rules"
)

func TestWatchReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "team.rules.yml")
	write := func(content string) {
		t.Helper()
		// Write-and-rename, as editors and config managers do.
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write("default: P4\nrules:\n  - name: a\n    when: alertname == \"A\"\n    severity: P1\n")
	reg := prometheus.NewRegistry()
	e, err := rules.NewEngine([]string{file}, rules.EngineOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Watch(ctx) }()
	defer func() { cancel(); <-done }()

	// Watch cannot say when its watch is in place, and a change made before that is missed: make
	// the first change again until it is seen, spaced wider than the watch's settle time (250ms)
	// so that a repeat never postpones the reload it waits for.
	first := e.Current().Version()
	var lastWrite time.Time
	testkit.Eventually(t, 10*time.Second, "the watch reloads the changed file", func() bool {
		if e.Current().Version() != first {
			return true
		}
		if time.Since(lastWrite) > 400*time.Millisecond {
			write("default: P4\nrules:\n  - name: b\n    when: alertname == \"B\"\n    severity: P2\n")
			lastWrite = time.Now()
		}
		return false
	})
	second := e.Current().Version()

	write("rules:\n  - name: broken\n    when: lables.x\n    severity: P1\n")
	testkit.Eventually(t, 10*time.Second, "a failed reload of the broken file", func() bool {
		return metrictest.Value(t, reg, "triaged_rules_last_reload_successful") == 0
	})
	if e.Current().Version() != second {
		t.Fatalf("a broken file replaced the rules in force")
	}

	write("default: P3\nrules: []\n")
	testkit.Eventually(t, 10*time.Second, "a successful reload of the fixed file", func() bool {
		return metrictest.Value(t, reg, "triaged_rules_last_reload_successful") == 1
	})
	if e.Current().Version() == second {
		t.Fatalf("the fixed file was not loaded")
	}
}
