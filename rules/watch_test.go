package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged/internal/metrictest"
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
	time.Sleep(100 * time.Millisecond) // let the watch start

	first := e.Current().Version()
	write("default: P4\nrules:\n  - name: b\n    when: alertname == \"B\"\n    severity: P2\n")
	waitUntil(t, func() bool { return e.Current().Version() != first })
	second := e.Current().Version()

	write("rules:\n  - name: broken\n    when: lables.x\n    severity: P1\n")
	waitUntil(t, func() bool { return metrictest.Value(t, reg, "triaged_rules_last_reload_successful") == 0 })
	if e.Current().Version() != second {
		t.Fatalf("a broken file replaced the rules in force")
	}

	write("default: P3\nrules: []\n")
	waitUntil(t, func() bool { return metrictest.Value(t, reg, "triaged_rules_last_reload_successful") == 1 })
	if e.Current().Version() == second {
		t.Fatalf("the fixed file was not loaded")
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("not within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
