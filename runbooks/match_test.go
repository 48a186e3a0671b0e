package runbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/expr-lang/expr/file"
	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
)

// TestDefaultLibrary pins the embedded library: its runbooks in match order, and first steps
// that fit the caps without being cut, so what a report shows is what the author wrote.
func TestDefaultLibrary(t *testing.T) {
	infos := Default().Runbooks()
	var got []string
	for _, rb := range infos {
		got = append(got, fmt.Sprintf("%s %d %s", rb.ID, rb.Priority, rb.Path))
		if !rb.Embedded || rb.Overrides != "" || rb.URL != "" {
			t.Errorf("%s: embedded %v, overrides %q, url %q", rb.ID, rb.Embedded, rb.Overrides, rb.URL)
		}
		if len(rb.Steps) != MaxSteps {
			t.Errorf("%s has %d first steps, want %d", rb.ID, len(rb.Steps), MaxSteps)
		}
		for _, s := range rb.Steps {
			if strings.HasSuffix(s, "…") || strings.Contains(s, "~/.claude") {
				t.Errorf("%s: step %q is cut or points at the seed's files", rb.ID, s)
			}
		}
	}
	want := []string{
		"service-down 30 runbooks/library/service-down.md",
		"database-slow 20 runbooks/library/database-slow.md",
		"high-cpu 10 runbooks/library/high-cpu.md",
		"general-triage -100 runbooks/library/general-triage.md",
	}
	if !slices.Equal(got, want) {
		t.Errorf("default library:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if lib, err := Load(); err != nil || lib != Default() {
		t.Errorf("Load() = %p, %v; want Default()", lib, err)
	}
}

// TestDefaultMatches: each default runbook is chosen for the alerts it is written for, and the
// general checklist for everything else.
func TestDefaultMatches(t *testing.T) {
	for _, tc := range []struct {
		alertname string
		labels    map[string]string
		want      string
	}{
		{"TargetDown", nil, "service-down"},
		{"InstanceDown", nil, "service-down"},
		{"BlackboxProbeFailed", nil, "service-down"},
		{"PaymentsAPIDown", nil, "service-down"},
		{"RedisUnreachable", nil, "service-down"},
		{"KubePodCrashLooping", nil, "service-down"},
		{"PostgresDown", nil, "service-down"}, // down beats slow: an outage first
		{"NodeHighCPU", nil, "high-cpu"},
		{"CPUThrottlingHigh", nil, "high-cpu"},
		{"ContainerCpuUsage", nil, "high-cpu"},
		{"PostgresSlowQueries", nil, "database-slow"},
		{"MySQLHighLatency", nil, "database-slow"},
		{"DBQueryLatencyHigh", nil, "database-slow"},
		{"DatabaseLocksWaiting", nil, "database-slow"},
		{"SlowQueries", map[string]string{"component": "database"}, "database-slow"},
		{"HighCPU", map[string]string{"component": "database"}, "high-cpu"}, // component alone is not "slow"
		{"FeedbackSlow", nil, "general-triage"},                             // "db" inside a word is not a database
		{"SlowQueries", nil, "general-triage"},
		{"DiskSpaceLow", nil, "general-triage"},
		{"AlwaysFiring", nil, "general-triage"},
		{"", nil, "general-triage"},
	} {
		t.Run(tc.alertname, func(t *testing.T) {
			res := Default().Find(Input{AlertName: tc.alertname, Labels: tc.labels, Status: "firing"})
			if res.ID != tc.want {
				t.Errorf("%s %v matched %q, want %q; reasons %q", tc.alertname, tc.labels, res.ID, tc.want, res.Reasons)
			}
			if res.Runbook == nil || len(res.Runbook.Steps) == 0 || len(res.Errors) > 0 {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestCapturedPayloads matches the alerts of real Alertmanager webhooks.
func TestCapturedPayloads(t *testing.T) {
	for file, want := range map[string]string{
		"firing-1-alert.json":                   "general-triage", // AlwaysFiring
		"firing-3-alerts.json":                  "service-down",   // TargetDown
		"firing-10-alerts.json":                 "general-triage", // DiskSpaceLow on db hosts: not a slow database
		"firing-mixed-1-resolved-2-firing.json": "service-down",
		"resolved-3-alerts.json":                "service-down",
		"resolved-1-alert.json":                 "general-triage", // FlappingHalfMinute
	} {
		data, err := os.ReadFile("../testdata/alertmanager/" + file)
		if err != nil {
			t.Fatal(err)
		}
		var msg template.Data
		if err := json.Unmarshal(data, &msg); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, a := range msg.Alerts {
			alert := &triaged.Alert{Alert: a}
			in := NewInput(alert, triaged.LabelledService(alert), 0)
			rb, why := Default().Match(in)
			if rb == nil || !strings.Contains(why[0], `matched "`+want+`"`) || rb.Path != EmbeddedDir+"/"+want+".md" {
				t.Errorf("%s: %s matched %+v, %q; want %s", file, in.AlertName, rb, why, want)
			}
		}
	}
}

func TestNewInput(t *testing.T) {
	a := &triaged.Alert{Alert: template.Alert{
		Status:      "firing",
		Labels:      template.KV{"alertname": "TargetDown", "job": "api", "environment": "prod"},
		Annotations: template.KV{"summary": "down"},
	}}
	in := NewInput(a, triaged.Service{Name: "api", Environment: "prod"}, triaged.P2)
	if in.AlertName != "TargetDown" || in.Status != "firing" || in.Service != "api" || in.Environment != "prod" ||
		in.Annotations["summary"] != "down" || in.Severity != triaged.P2 {
		t.Errorf("NewInput = %+v", in)
	}
	if in := NewInput(&triaged.Alert{}, triaged.Service{}, 0); in.Service != "unknown" {
		t.Errorf("service of an alert nothing names: %q", in.Service)
	}
}

// lib builds a library from in-memory runbooks; a name starting with "embedded/" is loaded as
// an embedded one.
func lib(t *testing.T, files map[string]string) *Library {
	t.Helper()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	var sources []source
	for _, n := range names {
		src := source{path: n, data: []byte(files[n]), embedded: strings.HasPrefix(n, "embedded/"), set: 1}
		if src.embedded {
			src.set = 0
		}
		sources = append(sources, src)
	}
	l, err := build(sources)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func runbookText(match string, priority int) string {
	return fmt.Sprintf("---\ntitle: T\nmatch: %q\npriority: %d\n---\n\n- step\n", match, priority)
}

// TestMatchOrder: the highest priority wins; at equal priority a configured runbook beats an
// embedded one; then the id decides, alphabetically.
func TestMatchOrder(t *testing.T) {
	l := lib(t, map[string]string{
		"embedded/general.md": runbookText("true", -100),
		"embedded/aaa.md":     runbookText(`alertname == "Tie"`, 0),
		"conf/zzz.md":         runbookText(`alertname == "Tie"`, 0),
		"conf/yyy.md":         runbookText(`alertname == "Tie"`, 0),
		"embedded/low.md":     runbookText(`alertname == "Prio"`, 1),
		"conf/high.md":        runbookText(`alertname == "Prio"`, 5),
		"embedded/higher.md":  runbookText(`alertname == "Prio"`, 7),
		"conf/negative.md":    runbookText(`alertname == "Neg"`, -200),
	})
	var order []string
	for _, rb := range l.Runbooks() {
		order = append(order, rb.ID)
	}
	if want := []string{"higher", "high", "low", "yyy", "zzz", "aaa", "general", "negative"}; !slices.Equal(order, want) {
		t.Errorf("match order %q, want %q", order, want)
	}
	for alert, want := range map[string]string{
		"Tie":   "yyy",     // configured over embedded, then alphabetical
		"Prio":  "higher",  // priority over everything else
		"Neg":   "general", // below the fallback's priority, a runbook loses to it
		"Other": "general",
	} {
		res := l.Find(Input{AlertName: alert})
		if res.ID != want {
			t.Errorf("%s matched %q, want %q (%q)", alert, res.ID, want, res.Reasons)
		}
	}
	res := l.Find(Input{AlertName: "Tie"})
	want := []string{
		`matched "yyy" (priority 0): alertname == "Tie"`,
		`also matched "zzz" (priority 0), later in match order`,
		`also matched "aaa" (priority 0), later in match order`,
		`also matched "general" (priority -100), later in match order`,
	}
	if !slices.Equal(res.Reasons, want) {
		t.Errorf("reasons %q, want %q", res.Reasons, want)
	}
}

// TestOverride: a configured runbook replaces the default one of the same id (its file name, or
// the id its front matter sets); a later directory replaces an earlier one; other files and
// README.md are not runbooks.
func TestOverride(t *testing.T) {
	l, err := Load("testdata/override")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Info{}
	var ids []string
	for _, rb := range l.Runbooks() {
		byID[rb.ID] = rb
		ids = append(ids, rb.ID)
	}
	if want := []string{"checkout-down", "service-down", "database-slow", "high-cpu", "general-triage"}; !slices.Equal(ids, want) {
		t.Errorf("runbooks %q, want %q", ids, want)
	}
	if sd := byID["service-down"]; sd.Path != "testdata/override/service-down.md" || sd.Overrides != "runbooks/library/service-down.md" || sd.Embedded {
		t.Errorf("service-down: %+v", sd)
	}
	if cpu := byID["high-cpu"]; cpu.Path != "testdata/override/cpu.md" || cpu.Overrides != "runbooks/library/high-cpu.md" {
		t.Errorf("high-cpu (overridden by id): %+v", cpu)
	}

	rb, _ := l.Match(Input{AlertName: "TargetDown", Service: "payments"})
	want := &triaged.Runbook{
		Title: "Service Down (our platform)",
		Path:  "testdata/override/service-down.md",
		URL:   "https://wiki.example.com/runbooks/service-down",
		Steps: []string{"Check the service's dashboard on https://grafana.example.com.", "Page the owning team if the service is theirs."},
	}
	if !runbookEqual(rb, want) {
		t.Errorf("TargetDown of payments: %+v, want %+v", rb, want)
	}
	res := l.Find(Input{AlertName: "TargetDown", Service: "checkout"})
	if res.ID != "checkout-down" || res.SeverityHint != triaged.P1 || res.Runbook.URL != "https://wiki.example.com/runbooks/checkout-down" {
		t.Errorf("TargetDown of checkout: %+v", res)
	}
	if !slices.Contains(res.Reasons, `runbook "checkout-down" suggests severity P1 (a hint; the severity rules decide)`) {
		t.Errorf("the severity hint is not in the reasons: %q", res.Reasons)
	}
	if res := l.Find(Input{AlertName: "HighLoad"}); res.ID != "high-cpu" || res.Runbook.Title != "CPU saturation" {
		t.Errorf("HighLoad: %+v", res)
	}

	l, err = Load("testdata/override", "testdata/override-again")
	if err != nil {
		t.Fatal(err)
	}
	if rb, _ := l.Match(Input{AlertName: "TargetDown"}); rb.Path != "testdata/override-again/service-down.md" {
		t.Errorf("the later directory did not win: %+v", rb)
	}
	// The default library is untouched by loading others.
	if rb, _ := Default().Match(Input{AlertName: "TargetDown"}); rb.Path != "runbooks/library/service-down.md" {
		t.Errorf("Default changed: %+v", rb)
	}
}

// TestConfiguringTheEmbeddedDirectory: the repository's runbooks/library given as a configured
// directory (to try edits without a rebuild) replaces each embedded runbook with its file, rather
// than colliding with the embedded copies.
func TestConfiguringTheEmbeddedDirectory(t *testing.T) {
	l, err := Load("library")
	if err != nil {
		t.Fatal(err)
	}
	for _, rb := range l.Runbooks() {
		if rb.Embedded || rb.Path != "library/"+rb.ID+".md" || rb.Overrides != EmbeddedDir+"/"+rb.ID+".md" {
			t.Errorf("%+v", rb)
		}
	}
}

func runbookEqual(a, b *triaged.Runbook) bool {
	return a != nil && b != nil && a.Title == b.Title && a.Path == b.Path && a.URL == b.URL && slices.Equal(a.Steps, b.Steps)
}

// TestRuntimeErrorSkips: a runbook whose expression fails for an incident is skipped and
// named; the others still match.
func TestRuntimeErrorSkips(t *testing.T) {
	l := lib(t, map[string]string{
		"conf/count.md": runbookText(`int(labels.count) > 3`, 10),
		"conf/index.md": runbookText(`split(alertname, "-")[2] == "x"`, 5),
		"conf/other.md": runbookText(`alertname == "a-b"`, 0),
	})
	res := l.Find(Input{AlertName: "a-b", Labels: map[string]string{"count": "many"}})
	if res.ID != "other" {
		t.Errorf("matched %q, want other", res.ID)
	}
	var ids []string
	for _, e := range res.Errors {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []string{"count", "index"}) {
		t.Errorf("errors %v", res.Errors)
	}
	wantReasons := []string{
		`skipped "count": its match failed: invalid operation: int(many) (1:1)`,
		`skipped "index": its match failed: index out of range: 2 (array length is 2) (1:22)`,
		`matched "other" (priority 0): alertname == "a-b"`,
	}
	if !slices.Equal(res.Reasons, wantReasons) {
		t.Errorf("reasons %q, want %q", res.Reasons, wantReasons)
	}
	if got := res.Errors[0].Error(); !strings.HasPrefix(got, `runbook "count" (conf/count.md): match: invalid operation`) {
		t.Errorf("MatchError: %s", got)
	}
	var fe *file.Error
	if !errors.As(res.Errors[1], &fe) || fe.Column != 21 {
		t.Errorf("expr's runtime error with its position is not reachable: %#v", fe)
	}
	// The same runbook matches an incident it does not fail on.
	if res := l.Find(Input{AlertName: "a-b", Labels: map[string]string{"count": "7"}}); res.ID != "count" || len(res.Errors) != 1 {
		t.Errorf("count=7: %+v", res)
	}
}

// TestNoMatch: a library without a fallback can match nothing; Match says so instead of failing.
func TestNoMatch(t *testing.T) {
	l := lib(t, map[string]string{"conf/a.md": runbookText(`alertname == "A"`, 0)})
	rb, why := l.Match(Input{AlertName: "B"})
	if rb != nil || !slices.Equal(why, []string{"no runbook matched (1 tried)"}) {
		t.Errorf("Match = %+v, %q", rb, why)
	}
	var nilLib *Library
	if rb, _ := nilLib.Match(Input{}); rb != nil || nilLib.Runbooks() != nil {
		t.Errorf("nil library matched %+v", rb)
	}
}

// TestVocabulary: every name of Env reads what Input says.
func TestVocabulary(t *testing.T) {
	in := Input{
		AlertName:   "Checkout5xx",
		Status:      "firing",
		Labels:      map[string]string{"team": "shop", "empty": ""},
		Annotations: map[string]string{"summary": "errors"},
		Service:     "checkout",
		Environment: "prod",
		Severity:    triaged.P2,
	}
	for _, tc := range []struct {
		match string
		want  bool
	}{
		{`alertname == "Checkout5xx"`, true},
		{`status == "firing"`, true},
		{`labels.team == "shop" && labels.missing == ""`, true},
		{`annotations.summary == "errors"`, true},
		{`service == "checkout" && environment in ["prod", "production"]`, true},
		{`severity == "P2"`, true},
		{`severity in ["P1", "P2"]`, true},
		{`has("team") && !has("empty") && !has("missing")`, true},
		{`severity == "P1"`, false},
	} {
		l := lib(t, map[string]string{"conf/x.md": runbookText(tc.match, 0)})
		res := l.Find(in)
		if got := res.ID == "x"; got != tc.want || len(res.Errors) > 0 {
			t.Errorf("%s: matched %v, want %v (%+v)", tc.match, got, tc.want, res)
		}
	}
	// A quoted priority is still a number.
	l := lib(t, map[string]string{
		"conf/quoted.md": "---\ntitle: Q\nmatch: \"true\"\npriority: \"5\"\n---\n- step\n",
		"conf/plain.md":  runbookText("true", 4),
	})
	if res := l.Find(in); res.ID != "quoted" {
		t.Errorf("priority \"5\": %q", res.Reasons)
	}
	// Without Input.AlertName, alertname is the label.
	l = lib(t, map[string]string{"conf/x.md": runbookText(`alertname == "FromLabel"`, 0)})
	if res := l.Find(Input{Labels: map[string]string{"alertname": "FromLabel"}}); res.ID != "x" {
		t.Errorf("alertname from the label: %+v", res)
	}
	// An unclassified incident has no severity yet: it reads as "".
	l = lib(t, map[string]string{"conf/x.md": runbookText(`severity == ""`, 0)})
	if res := l.Find(Input{}); res.ID != "x" {
		t.Errorf("zero severity: %+v", res)
	}
}

// TestResultIsACopy: a caller changing a returned runbook cannot change the library.
func TestResultIsACopy(t *testing.T) {
	rb, _ := Default().Match(Input{AlertName: "TargetDown"})
	rb.Steps[0] = "changed"
	rb.Title = "changed"
	again, _ := Default().Match(Input{AlertName: "TargetDown"})
	if again.Steps[0] == "changed" || again.Title == "changed" {
		t.Errorf("the library changed: %+v", again)
	}
}

// TestConcurrentMatch runs under -race: a Library is shared by every triage worker.
func TestConcurrentMatch(t *testing.T) {
	l, err := Load("testdata/override")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				name := []string{"TargetDown", "NodeHighCPU", "PostgresSlowQueries", "Other"}[(i+j)%4]
				if rb, _ := l.Match(Input{AlertName: name, Labels: map[string]string{"n": fmt.Sprint(j)}}); rb == nil {
					t.Errorf("%s matched nothing", name)
				}
			}
		})
	}
	wg.Wait()
}
