package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/golden"
)

const evalTime = "--time=2026-11-26T15:10:00Z"

// TestCLI runs triagetool as a user would and compares exit code, stdout and stderr with a golden
// file: `go test ./cmd/triagetool -update` rewrites them after an intended change.
func TestCLI(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
	}{
		{"usage", nil, ""},
		{"help", []string{"help"}, ""},
		{"unknown-command", []string{"frobnicate"}, ""},
		{"check-nothing", []string{"check"}, ""},
		{"check-unknown", []string{"check", "dashboards"}, ""},
		{"check-rules-no-files", []string{"check", "rules"}, ""},
		{"check-rules-good", []string{"check", "rules", "testdata/good.rules.yml"}, ""},
		{"check-rules-default", []string{"check", "rules", "../../rules/default.rules.yml"}, ""},
		{"check-rules-bad-and-good", []string{"check", "rules", "testdata/bad.rules.yml", "testdata/good.rules.yml"}, ""},
		{"check-rules-costly", []string{"check", "rules", "testdata/costly.rules.yml"}, ""},
		{"check-rules-missing", []string{"check", "rules", "testdata/nope.yml"}, ""},
		{"check-rules-lint", []string{"check", "rules", "testdata/lint.rules.yml"}, ""},
		{"check-rules-lint-not-fatal", []string{"check", "rules", "--lint-fatal=false", "testdata/lint.rules.yml"}, ""},
		{"check-config-good", []string{"check", "config", "testdata/config/good.yml", "testdata/config/default-rules.yml"}, ""},
		{"check-config-bad", []string{"check", "config", "testdata/config/bad.yml"}, ""},
		{"check-config-bad-rules", []string{"check", "config", "testdata/config/bad-rules.yml"}, ""},
		{"check-config-bad-template", []string{"check", "config", "testdata/config/bad-template.yml"}, ""},
		{"check-config-example", []string{"check", "config", "../../examples/triaged.yml"}, ""},
		{"check-config-all-problems", []string{"check", "config", "testdata/config/all-problems.yml"}, ""},
		{"check-config-routes", []string{"check", "config", "testdata/config/routes.yml"}, ""},
		{"check-config-routes-bad", []string{"check", "config", "testdata/config/routes-bad.yml"}, ""},
		{"check-config-routes-lint", []string{"check", "config", "testdata/config/routes-lint.yml"}, ""},
		{"route-reports", []string{"route", "--config.file", "testdata/config/routes.yml", "--report", "testdata/reports.jsonl"}, ""},
		{"route-reports-json", []string{"route", "--config.file=testdata/config/routes.yml", "--report=testdata/reports.jsonl", "--output=json"}, ""},
		{"route-webhook", []string{"route", "--config.file", "testdata/config/routes.yml", "--webhook", "testdata/webhook-firing-3.json", evalTime}, ""},
		{"route-alert-stdin-no-routes", []string{"route", "--config.file", "testdata/config/good.yml", "--webhook", "-", evalTime}, `{"labels": {"alertname": "TargetDown", "service": "checkout", "instance": "c-1:9100"}, "startsAt": "2026-11-26T15:09:00Z"}`},
		{"route-readme", []string{"route", "--config.file", readmeRoutesConfig, "--webhook", "../../testdata/alertmanager/firing-1-alert.json", evalTime}, ""},
		{"route-no-match", []string{"route", "--config.file", "testdata/config/routes-p1.yml", "--webhook", "testdata/alert.json", evalTime}, ""},
		{"route-bad-config", []string{"route", "--config.file", "testdata/config/routes-bad.yml", "--report", "testdata/reports.jsonl"}, ""},
		{"route-bad-report", []string{"route", "--report", "testdata/bad-input.json"}, ""},
		{"route-both-inputs", []string{"route", "--report", "testdata/reports.jsonl", "--webhook", "testdata/alert.json"}, ""},
		{"test-nothing", []string{"test"}, ""},
		{"test-rules-default", []string{"test", "rules", "../../rules/default.rules.test.yml"}, ""},
		{"test-rules-good", []string{"test", "rules", "testdata/good.test.yml"}, ""},
		{"test-rules-failing", []string{"test", "rules", "testdata/good.test.yml", "testdata/failing.test.yml"}, ""},
		{"test-rules-broken", []string{"test", "rules", "testdata/broken.test.yml"}, ""},
		{"explain-alert", []string{"explain", "--rules", "testdata/good.rules.yml", evalTime, "testdata/alert.json"}, ""},
		{"explain-webhook-default-rules", []string{"explain", evalTime, "testdata/webhook-firing-3.json"}, ""},
		{"explain-list-all", []string{"explain", "testdata/alerts-list.json", "--rules=testdata/good.rules.yml", evalTime, "--all"}, ""},
		{"explain-facts-zone", []string{"explain", "--rules", "testdata/good.rules.yml", "--facts", "testdata/facts.json", evalTime, "--time-zone", "Europe/Berlin", "testdata/alert.json"}, ""},
		{"explain-stdin", []string{"explain", "--rules", "testdata/good.rules.yml", evalTime, "-"}, `{"labels": {"alertname": "TargetDown", "service": "checkout", "instance": "c-1:9100"}, "startsAt": "2026-11-26T15:09:00Z"}`},
		{"explain-drop", []string{"explain", "--rules", "testdata/drop.rules.yml", evalTime, "-"}, `{"labels": {"alertname": "InfoInhibitor", "namespace": "monitoring"}, "startsAt": "2026-11-26T15:09:00Z"}`},
		{"explain-config-defaults", []string{"explain", "--config.file", "testdata/config/defaults.yml", evalTime, "-"}, `{"labels": {"alertname": "KubePodCrashLooping", "severity": "critical", "deployment": "checkout-api", "job": "kube-state-metrics"}, "startsAt": "2026-11-26T15:09:00Z"}`},
		{"explain-config-and-rules", []string{"explain", "--config.file", "testdata/config/defaults.yml", "--rules", "testdata/good.rules.yml", evalTime, "testdata/alert.json"}, ""},
		{"explain-bad-input", []string{"explain", evalTime, "testdata/bad-input.json"}, ""},
		{"explain-empty-input", []string{"explain", evalTime, "-"}, " \n"},
		{"explain-bad-rules", []string{"explain", "--rules", "testdata/bad.rules.yml", evalTime, "testdata/alert.json"}, ""},
		{"explain-bad-time", []string{"explain", "--time", "yesterday", "testdata/alert.json"}, ""},
		{"explain-no-input", []string{"explain", evalTime}, ""},
		{"explain-help", []string{"explain", "-h"}, ""},
		{"explain-json", []string{"explain", "--output", "json", "--rules", "testdata/good.rules.yml", "--facts", "testdata/facts.json", evalTime, "testdata/alerts-list.json"}, ""},
		{"explain-json-default-rules", []string{"explain", "--output=json", evalTime, "testdata/webhook-firing-3.json"}, ""},
		{"explain-bad-output", []string{"explain", "--output", "yaml", evalTime, "testdata/alert.json"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdin = strings.NewReader(tc.stdin)
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			got := fmt.Sprintf("$ triagetool %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tc.args, " "), code, stdout.String(), stderr.String())

			golden.Check(t, filepath.Join("testdata", "golden", tc.name+".golden"), []byte(got))
		})
	}
}

// TestExitCodes pins the contract CI scripts rely on, independent of the wording.
func TestExitCodes(t *testing.T) {
	for args, want := range map[string]int{
		"check rules testdata/good.rules.yml":                         exitOK,
		"check rules testdata/bad.rules.yml":                          exitFailure,
		"check rules testdata/lint.rules.yml":                         exitLint,
		"check rules testdata/lint.rules.yml testdata/bad.rules.yml":  exitFailure,
		"check rules --lint-fatal=false testdata/lint.rules.yml":      exitOK,
		"test rules testdata/good.test.yml":                           exitOK,
		"test rules testdata/failing.test.yml":                        exitFailure,
		"explain --rules testdata/good.rules.yml testdata/alert.json": exitOK,
		"explain --nope testdata/alert.json":                          exitUsage,
		"":                                                            exitUsage,
	} {
		var out bytes.Buffer
		if got := run(strings.Fields(args), &out, &out); got != want {
			t.Errorf("triagetool %s: exit %d, want %d\n%s", args, got, want, out.String())
		}
	}
}
