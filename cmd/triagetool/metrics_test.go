package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/golden"
)

// TestCLIMetrics: explain --facts with metrics shows what the escalation rules read, and check
// config warns about metric names the catalog does not define (issue 12).
func TestCLIMetrics(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"explain-metrics", []string{"explain", "--rules", "testdata/metrics.rules.yml", "--facts", "testdata/metrics-facts.json", evalTime, "testdata/metrics-alert.json"}, exitOK},
		{"check-config-metrics", []string{"check", "config", "testdata/config/metrics.yml"}, exitLint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			got := fmt.Sprintf("$ triagetool %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tc.args, " "), code, stdout.String(), stderr.String())
			golden.Check(t, filepath.Join("testdata", "golden", tc.name+".golden"), []byte(got))
		})
	}
}
