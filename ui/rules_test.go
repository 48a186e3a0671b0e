package ui

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/rules"
)

const inForce = `default: P4
rules:
  - name: checkout-down
    description: "<img src=x onerror=alert(1)> checkout is down"
    when: service == "checkout" && alertname == "TargetDown"
    severity: P1
  - name: noise
    when: alertname == "Watchdog"
    drop: true
escalations:
  - name: recent-deploy
    when: len(probes) > 0 && all(probes, {!.ok})
    severity: P2
`

const shadowRules = `default: P4
rules:
  - name: everything-p2
    when: "true"
    severity: P2
`

// TestRulesPage renders the rules in force with positions, match counts and last matches, a
// failed reload, and the shadow set's disagreements; rule text is escaped.
func TestRulesPage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "team.rules.yml")
	shadowFile := filepath.Join(dir, "shadow.rules.yml")
	for name, text := range map[string]string{file: inForce, shadowFile: shadowRules} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := rules.NewEngine([]string{file}, rules.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shadow, err := rules.NewShadow([]string{shadowFile}, rules.ShadowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 15, 10, 0, 0, time.UTC)
	a := &triaged.Alert{}
	a.Status = "firing"
	a.Labels = map[string]string{"alertname": "TargetDown", "service": "checkout", "note": `"><script>x</script>`}
	svc := triaged.Service{Name: "checkout"}
	c := eng.Classify(a, svc, at)
	shadow.CompareClassify(c, a, svc, at)
	// A broken edit: the reload fails and says where; the rules above stay.
	if err := os.WriteFile(file, []byte("rules:\n  - name: b\n    when: lables.x\n    severity: P1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := eng.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}

	u := newUI(t, Options{Rules: eng, Shadow: shadow})
	code, body := get(t, u, "/rules")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if m := inline.FindString(body); m != "" || strings.Contains(body, "<img") || strings.Contains(body, "<script>x") {
		t.Errorf("unescaped or inline content %q in\n%s", m, body)
	}
	got := mainOf(t, body)
	got = strings.ReplaceAll(got, dir, "DIR")
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\d(T| )\d\d:\d\d:\d\d(\.\d+)?(Z| UTC)`)
	got = stamp.ReplaceAllStringFunc(got, func(s string) string {
		if strings.HasPrefix(s, "2026-11-26") {
			return s // the evaluation time: fixed
		}
		return "TIME"
	})
	golden.Check(t, "testdata/rules_page.golden", []byte(got))
}
