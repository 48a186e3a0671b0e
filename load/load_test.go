package load_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/triaged/triaged/load"
	"github.com/triaged/triaged/rules"
	"github.com/triaged/triaged/runbooks"
)

func TestFileBuildsEveryPart(t *testing.T) {
	p, err := load.File("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Rules.Files(); len(got) != 1 || got[0] != filepath.Join("testdata", "team.rules.yml") {
		t.Errorf("rule set from %q, want the rules.files resolved against the config", got)
	}
	if got := len(p.Rules.Rules(rules.StageClassify)); got != 1 {
		t.Errorf("%d classification rules, want the 1 of team.rules.yml", got)
	}
	var fromDir *runbooks.Info
	for _, rb := range p.Runbooks.Runbooks() {
		if rb.ID == "disk-full" {
			fromDir = &rb
		}
	}
	if fromDir == nil || fromDir.Path != filepath.Join("testdata", "runbooks", "disk-full.md") {
		t.Errorf("runbook library lacks testdata/runbooks/disk-full.md: %+v", p.Runbooks.Runbooks())
	}
	cat := p.Catalog
	if cat.Len() != 2 || len(cat.Service("checkout").Checks()) != 2 || len(cat.Service("checkout").LogSources()) != 1 {
		t.Fatalf("catalog not compiled from services: %d services", cat.Len())
	}
	if got := p.Redactor.String("id internal-0123456789abcdef0123456789abcdef"); strings.Contains(got, "0123") {
		t.Errorf("enrichment.redact not applied: %q", got)
	}
	if p.Renderer == nil {
		t.Error("no report renderer")
	}
	if len(p.Sinks) != 2 || p.Sinks[0].Name() != "stdout" || p.Sinks[1].Name() != "archive" || p.Sinks[1].Type() != "file" {
		t.Errorf("sinks %+v, want stdout and archive in config order", p.Sinks)
	}
	// Checking sinks opens nothing: the file sink's directory is made by the daemon only.
	if _, err := os.Stat(filepath.Join("testdata", "reports")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("loading created the file sink's directory (stat: %v)", err)
	}
}

func TestDefaults(t *testing.T) {
	p, err := load.File("")
	if err != nil {
		t.Fatal(err)
	}
	if p.Config.File != "" || p.Rules.Version() != rules.Default().Version() || p.Runbooks != runbooks.Default() {
		t.Errorf("the defaults are not the built-in rules and runbooks")
	}
	if len(p.Sinks) != 1 || p.Sinks[0].Type() != "stdout" || p.Catalog.Len() != 0 {
		t.Errorf("defaults: %d sinks, %d services", len(p.Sinks), p.Catalog.Len())
	}
}

// TestEveryProblemInOnePass loads config's bad-values file: the problems of the config's own
// values and those of the parts it names come in one list, in the order a reader meets them.
func TestEveryProblemInOnePass(t *testing.T) {
	file := "../config/testdata/bad-values.bad.yml"
	_, err := load.File(file)
	if err == nil {
		t.Fatal("loaded without error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, `loading "`+file+`": `) {
		t.Errorf("error does not start by naming the file: %s", msg)
	}
	for _, w := range []string{
		`:2:11: nats.prefix: "tri aged" is not a valid prefix`,
		`:13:11: sinks[1].name: "stdout" is already the name of sinks[0]`,
		`:14:11: sinks[1].type: unknown sink type "pager" (known: stdout, file`,
		`:15:5: sinks[2].path: a file sink needs a path`,
		`:19:19: enrichment.suspect_window: 3h is longer than enrichment.deploy_window 2h`,
		`:24:13: services[0].match.expr: unknown name lables (1:1)`,
		`:28:16: services[0].probes[0].http.url: is a template ("http://{{ .Labels.instance }}/") but no allow pattern is given`,
		`:22:20: services[0].dependencies[0]: a service cannot depend on itself`,
	} {
		if !strings.Contains(msg, file+w) {
			t.Errorf("error lacks %q:\n%s", file+w, msg)
		}
	}
	last := 0
	for _, m := range regexp.MustCompile(`(?m)^\S*bad-values\.bad\.yml:(\d+):`).FindAllStringSubmatch(msg, -1) {
		line, _ := strconv.Atoi(m[1])
		if line < last {
			t.Errorf("line %d listed after line %d:\n%s", line, last, msg)
		}
		last = line
	}
}

func TestProblemsOfOtherFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("runbooks/bad.md", "---\ntitle: Bad\nmatch: lables.x == \"y\"\n---\n\n- Step.\n")
	write("report.md.tmpl", "{{.Nope}}\n")
	write("triaged.yml", "report:\n  template: report.md.tmpl\nenrichment:\n  runbook_dirs: [runbooks]\nrules:\n  files: [missing.rules.yml]\n")
	cfg := filepath.Join(dir, "triaged.yml")
	_, err := load.File(cfg)
	if err == nil {
		t.Fatal("loaded without error")
	}
	for _, w := range []string{
		"read rule file: open " + filepath.Join(dir, "missing.rules.yml"),
		filepath.Join(dir, "runbooks", "bad.md") + `:3:8: runbook "Bad": match: unknown name lables`,
		"load report template: try on a sample report: template: " + filepath.Join(dir, "report.md.tmpl") + ":1:2: executing",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestUndecodableConfig(t *testing.T) {
	_, err := load.Bytes([]byte("nats: [\n"), "triaged.yml")
	if err == nil || !strings.HasPrefix(err.Error(), "triaged.yml:") {
		t.Fatalf("got %v, want the YAML error placed in triaged.yml", err)
	}
	_, err = load.File("testdata/nope.yml")
	if err == nil || !strings.Contains(err.Error(), `loading "testdata/nope.yml": open testdata/nope.yml: no such file or directory`) {
		t.Fatalf("got %v", err)
	}
}

// TestShadowRules: rules.shadow_files are loaded as rule files are, their problems placed in
// their files, and an empty name at its key.
func TestShadowRules(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("candidate.rules.yml", "default: P3\nrules:\n  - name: x\n    when: alertname == \"X\"\n    severity: P2\n")
	p, err := load.File(write("good.yml", "rules:\n  shadow_files: [candidate.rules.yml]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.ShadowRules == nil || p.ShadowRules.Files()[0] != filepath.Join(dir, "candidate.rules.yml") || p.ShadowRules.DefaultSeverity().String() != "P3" {
		t.Errorf("shadow rules %+v, want candidate.rules.yml resolved against the config", p.ShadowRules)
	}
	if p.Rules.Version() == p.ShadowRules.Version() {
		t.Error("the shadow rules are the rules in force")
	}
	if p, err := load.File(write("none.yml", "rules:\n  files: []\n")); err != nil || p.ShadowRules != nil {
		t.Errorf("no shadow files: %v, %v", p.ShadowRules, err)
	}

	broken := write("broken.rules.yml", "rules:\n  - name: broken\n    when: lables.x == \"y\"\n    severity: P1\n")
	if _, err = load.File(write("broken.yml", "rules:\n  shadow_files: [broken.rules.yml]\n")); err == nil || !strings.Contains(err.Error(), broken+`:3:11: rule "broken": when: unknown name lables`) {
		t.Errorf("a broken shadow file: %v", err)
	}
	cfg := write("bad.yml", "rules:\n  shadow_files: [broken.rules.yml, \"\"]\n  shadow_max_disagreements: 0\n")
	_, err = load.File(cfg)
	for _, w := range []string{
		cfg + `:2:36: rules.shadow_files[1]: empty file name`,
		cfg + `:3:29: rules.shadow_max_disagreements: 0 is out of range 1..100000`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
