package app_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
)

// TestRulesReload shows the rule author's loop in the daemon: a broken edit is refused with its
// position and the old rules keep working; a fixed file is picked up from disk by itself.
func TestRulesReload(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "team.rules.yml")
	writeRules := func(body string) {
		t.Helper()
		if err := os.WriteFile(rulesFile, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeRules("default: P4\nrules:\n  - name: checkout-first\n    when: service == \"checkout\"\n    severity: P2\n")
	cfg := filepath.Join(dir, "triaged.yml")
	if err := os.WriteFile(cfg, []byte("rules:\n  files: [team.rules.yml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, app.Options{ConfigFile: cfg})
	r.postFile(t, "firing-1-alert.json")
	if out := r.waitReports(t, 1); !strings.Contains(out, "Rule `checkout-first` decided") || !strings.Contains(out, "P2 - HIGH") {
		t.Fatalf("report not decided by the rule file:\n%s", out)
	}

	writeRules("rules:\n  - name: broken\n    when: lables.x == \"y\"\n    severity: P1\n")
	resp, err := http.Post(r.url+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, rulesFile+":3:11: rule \"broken\"") {
		t.Fatalf("POST /-/reload of a broken file: %d %q", resp.StatusCode, body)
	}
	if got := metrictest.Value(t, r.app.Registry(), "triaged_rules_last_reload_successful"); got != 0 {
		t.Fatalf("last_reload_successful = %v after a failed reload", got)
	}
	r.postFile(t, "firing-3-alerts.json") // still classified by the old rules
	if out := r.waitReports(t, 2); strings.Count(out, "**Severity**: P4 - LOW") != 1 {
		t.Fatalf("after a failed reload the old rules must go on deciding (default P4):\n%s", out)
	}

	writeRules("default: P4\nrules:\n  - name: storage\n    when: service == \"storage\"\n    severity: P1\n")
	testkit.Eventually(t, testTimeout, "the fixed rule file reloaded", func() bool {
		return metrictest.Value(t, r.app.Registry(), "triaged_rules_last_reload_successful") == 1
	})
	r.postFile(t, "firing-10-alerts.json")
	out := r.waitReports(t, 3)
	if got := strings.Count(out, "Rule `storage` decided"); got != 1 {
		t.Fatalf("%d reports decided by the fixed rule, want the one of the group's incident:\n%s", got, out)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
