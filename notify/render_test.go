package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/golden"
)

// TestGolden renders each fixture with the embedded template and compares the Markdown with
// testdata/NAME.md. Run `go test ./notify -update` after an intended change and review the diff.
func TestGolden(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rep  *triaged.Report
	}{
		{"opened_p1", openedP1()},
		{"pending_truncated_p3", pendingP3()},
		{"resolved_p2", resolvedP2()},
		{"updated_p1", updatedP1()},
		{"reopened_p1", reopenedP1()},
		{"resolved_p1", resolvedP1()},
		{"resolved_pending_p3", resolvedPendingP3()},
		{"flapping_p2", flappingP2()},
		{"hostile_labels", hostile()},
		{"assumed_environment_p1", assumedEnvironment()},
		{"metrics_measured_p1", measuredP1()},
		{"metrics_prometheus_down_p1", prometheusDownP1()},
		{"metrics_pending_p1", metricsPendingP1()},
		{"metrics_updated_p1", measuredUpdateP1()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Markdown(tc.rep)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".md"), got)
		})
	}
}

func writeTemplate(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.md.tmpl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A user template that cannot be used is rejected at load, with the file and line, whether the
// problem is its syntax or something that only shows when it runs.
func TestNewRendererBadTemplate(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unclosed action", "## INCIDENT REPORT\n**Severity**: {{.Severity}\n", ":2: bad character U+007D '}'"},
		{"unknown function", "line one\nline two\n{{shout .Service}}\n", `:3: function "shout" not defined`},
		{"unknown field", "ok\n{{.Servce}}\n", `:2:2: executing`},
		{"nil runbook", "{{.Runbook.Title}}", `:1:10: executing`},
		{"broken block override", "{{define \"runbook\"}}\n{{.Runbook.Title}}\n{{end}}", `:2:10: executing "runbook"`},
		// Each event's branch runs on a sample at load, so a typo in any of them is caught there.
		{"typo in the resolution", "{{define \"resolution\"}}\n{{.EndedAt.Year}}{{end}}", `:2:10: executing "resolution"`},
		{"typo in the flapping update", "{{define \"flapping\"}}{{.FlapAdvise}}{{end}}", `:1:23: executing "flapping"`},
		{"typo in the status update", "{{define \"status_update\"}}{{.NextUpdateDue.Hour}}{{end}}", `:1:42: executing "status_update"`},
		{"typo in the reopened report", "{{define \"header\"}}{{if eq .Event \"reopened\"}}{{.Deadlines.Mitigate.Day}}{{end}}{{end}}", `:1:58: executing "header"`},
		{"typo in the metrics block", "{{define \"metrics\"}}{{range .Metrics}}{{.Nwo}}{{end}}{{end}}", `:1:40: executing "metrics"`},
		{"typo in the metrics at the opening", "{{define \"metrics_at_opening\"}}{{with alertMetric .}}{{.CrossedAt.Hour}}{{end}}{{end}}", `:1:65: executing "metrics_at_opening"`},
		{"typo in the logs block", "{{define \"logs\"}}{{range .Logs}}{{.Line}}{{end}}{{end}}", `:1:34: executing "logs"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemplate(t, tc.text)
			_, err := NewRenderer(path)
			if err == nil {
				t.Fatal("NewRenderer accepted a bad template")
			}
			if !strings.Contains(err.Error(), path+tc.want) {
				t.Errorf("error %q does not contain %q", err, path+tc.want)
			}
		})
	}
	if _, err := NewRenderer(filepath.Join(t.TempDir(), "missing.tmpl")); err == nil || !strings.Contains(err.Error(), "missing.tmpl") {
		t.Errorf("missing file: error %v does not name the file", err)
	}
}

// A user file that only redefines a block keeps the rest of the default report.
func TestNewRendererOverrideBlock(t *testing.T) {
	path := writeTemplate(t, `{{define "runbook"}}
See the {{.Team}} wiki for {{.Service}}.
{{- end}}`)
	r, err := NewRenderer(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Markdown(openedP1())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## INCIDENT REPORT\n", "### Runbook\nSee the payments wiki for checkout.\n\n### Severity decision"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("report does not contain %q:\n%s", want, got)
		}
	}
}

// A user template gets the same escaping as the default without asking for it.
func TestUserTemplateIsEscaped(t *testing.T) {
	path := writeTemplate(t, `{{$s := .Summary}}{{.Service}}|{{printf "%s!" .Environment}}|{{md $s}}|{{code .AlertName}}|{{template "impact" .}}`)
	r, err := NewRenderer(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Markdown(hostile())
	if err != nil {
		t.Fatal(err)
	}
	want := "&lt;!channel> checkout|" +
		`prod  ## Fake section - \[x\] Production down!|` +
		`Click \[here\](http://evil.example/login) @` + "\u200b" + `channel @` + "\u200b" + `here &lt;!here> &lt;script>alert(1)&lt;/script>|` +
		"``Evil`Alert` # PWNED``|\n- [ ] Production down\n- [ ] Feature degraded\n- [ ] Data integrity issues\n- [x] Security concerns"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestMarkdownNilReport(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Markdown(nil); err == nil {
		t.Error("Markdown(nil) did not fail")
	}
}

func TestTitle(t *testing.T) {
	for _, tc := range []struct {
		rep  *triaged.Report
		want string
	}{
		{openedP1(), "[P1 CRITICAL] checkout (production): CheckoutDown opened"},
		{updatedP1(), "[P1 CRITICAL] checkout (production): CheckoutDown updated"},
		{pendingP3(), "[P3 MEDIUM] search: SearchLatencyHigh opened"},
		{resolvedP2(), "[P2 HIGH] orders (production, assumed): OrdersErrorRateHigh resolved"},
		{hostile(), "[P4 LOW] <!channel> checkout (prod ## Fake section - [x] Production down): Evil`Alert` # PWNED opened"},
		{&triaged.Report{}, "[Severity(0) UNKNOWN] unknown service: alert"},
		{nil, ""},
	} {
		if got := Title(tc.rep); got != tc.want {
			t.Errorf("Title() = %q, want %q", got, tc.want)
		}
	}
}

// assumedEnvironment is an opened report whose environment is the configured default and whose
// service a workload label named: the report says both.
func assumedEnvironment() *triaged.Report {
	rep := openedP1()
	rep.ServiceFrom = "label deployment"
	rep.EnvironmentFrom, rep.EnvironmentAssumed = "assumed from defaults.environment: no env or environment label", true
	return rep
}
