package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/app"
)

// TestCheckConfigRefusesWhatTheDaemonRefuses holds "passes check ⇒ starts" to its word: for each
// config, `triagetool check config` fails with the messages, and app.New refuses the same config
// with the very same messages, before it starts anything.
func TestCheckConfigRefusesWhatTheDaemonRefuses(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"broken-runbook.yml", []string{
			`testdata/config/runbooks-broken/broken.md:3:1: runbook "Broken": unknown key "severty": want id, title, match, severity, priority or url`,
		}},
		{"bad-redact.yml", []string{
			`testdata/config/bad-redact.yml:4:7: enrichment.redact[1]: "secret=(\\w+": error parsing regexp: missing closing ): ` + "`secret=(\\w+`",
		}},
		{"catalog-now.yml", []string{ // the expr policy of rules and runbooks holds for the catalog
			`testdata/config/catalog-now.yml:4:13: services[0].match.expr: unknown name now (1:1)`,
			`testdata/config/catalog-now.yml:7:13: services[1].match.expr: the pattern of matches must be a string literal`,
		}},
		{"bad-sink-type.yml", []string{
			`testdata/config/bad-sink-type.yml:3:11: sinks[0].type: unknown sink type "pager" (known: stdout, file, slack, slack_webhook, mattermost, mattermost_webhook, teams, webhook)`,
		}},
		{"budget-over-nats.yml", []string{ // a report must fit NATS' max payload (issue 9, point 2)
			`testdata/config/budget-over-nats.yml:3:14: report.max_bytes: 1048576 is out of range 16384..524288`,
		}},
		{"logs-over-budget.yml", []string{ // and the log excerpts a service allows must fit the report
			`testdata/config/logs-over-budget.yml:5:7: services[0].logs: the log excerpts of service "checkout" (2 sources, max_bytes 2097152 in all) take 2097152 bytes, over half of report.max_bytes (262144)`,
		}},
		{"routes-bad.yml", []string{ // routes are checked against the sinks, matchers and expr placed
			`testdata/config/routes-bad.yml:7:16: routes[0].matchers[0]: severity="critical" matches no severity a report has (P1, P2, P3, P4)`,
			`testdata/config/routes-bad.yml:7:55: routes[0].matchers[2]: cluster=~"eu-(1": error parsing regexp: missing closing ):`,
			`testdata/config/routes-bad.yml:8:21: routes[0].sinks[1]: unknown sink "slack" (sinks: stdout, pager)`,
			`testdata/config/routes-bad.yml:10:11: routes[1].expr: unknown name lables (1:1)`,
			`testdata/config/routes-bad.yml:12:5: routes[2].sinks: a route must name at least one sink`,
		}},
		{"all-problems.yml", []string{ // one pass: the config's own values and every part it names
			`testdata/config/all-problems.yml:3:12: triage.workers: 0 is out of range 1..4096`,
			`testdata/config/all-problems.yml:6:11: sinks[0].type: unknown sink type "pager" (known: stdout, file, slack, slack_webhook, mattermost, mattermost_webhook, teams, webhook)`,
			`testdata/config/all-problems.yml:7:5: sinks[1].path: a file sink needs a path`,
			`testdata/config/all-problems.yml:10:35: enrichment.runbook_dirs[1]: "testdata/config/no-such-dir" is not a readable directory`,
			`testdata/config/all-problems.yml:11:12: enrichment.redact[0]: "secret=(\\w+": error parsing regexp`,
			`testdata/config/all-problems.yml:11:27: enrichment.redact[1]: "x*": matches the empty string`,
			`testdata/config/all-problems.yml:17:13: services[0].match.expr: unknown name lables (1:1)`,
			`testdata/bad.rules.yml:4:11: rule "db-down": when: unknown name lables (1:1)`,
			`testdata/bad.rules.yml:16:5: rule "typo": unknown key "severty"`,
			`testdata/config/runbooks-broken/broken.md:3:1: runbook "Broken": unknown key "severty"`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			file := filepath.Join("testdata", "config", tc.file)
			var stdout, stderr bytes.Buffer
			if code := run([]string{"check", "config", file}, &stdout, &stderr); code != exitFailure {
				t.Fatalf("check config exited %d, want %d\n%s%s", code, exitFailure, &stdout, &stderr)
			}
			checked := stderr.String()
			for _, w := range tc.want {
				if !strings.Contains(checked, w) {
					t.Errorf("check config does not say %q:\n%s", w, checked)
				}
			}

			storage := t.TempDir()
			a, err := app.New(context.Background(), app.Options{ConfigFile: file, ListenAddress: "127.0.0.1:0", StoragePath: storage})
			if err == nil {
				_ = a.Run(canceled())
				t.Fatal("app.New started on a config that check config refuses")
			}
			var daemon bytes.Buffer
			printFailed(&daemon, "", err)
			if daemon.String() != checked {
				t.Errorf("the daemon's error differs from the check's:\n--- app.New\n%s--- check config\n%s", &daemon, checked)
			}
			if entries, _ := os.ReadDir(storage); len(entries) > 0 {
				t.Errorf("app.New refused the config after starting NATS: %s holds %d entries", storage, len(entries))
			}
		})
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
