package runbooks

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/triaged/triaged"
)

// TestReadme keeps the documentation honest: the complete example loads and matches what it
// says, its first steps are taken as the README describes, and the default library table lists
// the embedded runbooks with their priorities and hints.
func TestReadme(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	_, rest, ok := strings.Cut(readme, "````markdown\n")
	example, _, ok2 := strings.Cut(rest, "````\n")
	if !ok || !ok2 {
		t.Fatal("README.md has no ````markdown example")
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/example.md", []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatalf("the README example: %v", err)
	}
	res := l.Find(Input{AlertName: "TargetDown", Service: "checkout", Environment: "production"})
	wantSteps := []string{
		"Check the pods: `kubectl get pods -n shop -l app=checkout`.",
		"If Recent Changes shows a deploy in the last 30 minutes, roll it back: `kubectl rollout undo deployment/checkout -n shop`.",
		"Fail over to the standby region if the pods do not come back within 5 minutes. The failover script is in the shop repository.",
		"Tell #payments what is down and since when.",
	}
	if res.ID != "checkout-down" || res.SeverityHint != triaged.P1 || res.Runbook.URL != "https://wiki.example.com/runbooks/checkout-down" ||
		!slices.Equal(res.Runbook.Steps, wantSteps) {
		t.Errorf("the README example matched %+v; steps %q", res, res.Runbook.Steps)
	}
	if res := l.Find(Input{AlertName: "TargetDown", Service: "checkout", Environment: "staging"}); res.ID != "service-down" {
		t.Errorf("the README example matched staging: %q", res.Reasons)
	}

	// The default library table: | [`id`](...) | title | matches | priority | hint |
	row := regexp.MustCompile("(?m)^\\| \\[`([a-z-]+)`\\]\\(library/[a-z-]+\\.md\\) \\| ([^|]+) \\|[^|]+\\| (-?[0-9]+) \\| ([^|]+) \\|$")
	var got []string
	for _, m := range row.FindAllStringSubmatch(readme, -1) {
		got = append(got, fmt.Sprintf("%s %s %s %s", m[1], strings.TrimSpace(m[2]), m[3], strings.TrimSpace(m[4])))
	}
	var want []string
	for _, rb := range Default().Runbooks() {
		hint := "—"
		if rb.SeverityHint != 0 {
			hint = rb.SeverityHint.String()
		}
		want = append(want, fmt.Sprintf("%s %s %d %s", rb.ID, rb.Title, rb.Priority, hint))
	}
	if !slices.Equal(got, want) {
		t.Errorf("README default library table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
