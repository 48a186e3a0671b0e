package rules

import (
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/logtail"
)

// evalBool compiles a condition against env's type and runs it on env.
func evalBool(t *testing.T, text string, env any) bool {
	t.Helper()
	stage := StageClassify
	if _, ok := env.(*EscalationEnv); ok {
		stage = StageEscalate
	}
	program, err := compileExpr(text, envFor(stage), reflect.Bool)
	if err != nil {
		t.Fatalf("compile %s: %v", text, err)
	}
	out, err := expr.Run(program, env)
	if err != nil {
		t.Fatalf("run %s: %v", text, err)
	}
	return out.(bool)
}

func TestEnvVocabulary(t *testing.T) {
	a := alert("TargetDown", "env", "prod", "job", "api", "instance", "10.0.0.1:9100", "empty", "")
	env := newEnv(a, triaged.LabelledService(a), evalTime)
	for _, expr := range []string{
		`alertname == "TargetDown"`,
		`status == "firing"`,
		`labels.env == "prod" && labels["job"] == "api"`,
		`labels.missing == ""`,
		`annotations.summary startsWith "something"`,
		`starts_at == now - duration("10m")`,
		`active_for == duration("10m")`,
		`active_for > duration("5m") && active_for < duration("15m")`,
		`group_labels.alertname == "TargetDown" && receiver == "webhook" && group_size == 1`,
		`common_labels.anything == "" && len(common_labels) == 0`,
		`service == "api"`,
		`environment == "prod" && !environment_assumed`,
		`hour == 15 && weekday == "Thursday"`,
		`has("env") && !has("missing") && !has("empty")`,
		`business_hours()`,
		`alertname matches "(?i)^target" && !(alertname matches "^target")`,
		`let port = split(labels.instance, ":")[1]; port == "9100"`,
		`"env" in labels && "missing" not in labels`,
		`any(keys(labels), {# == "job"})`,
	} {
		if !evalBool(t, expr, env) {
			t.Errorf("%s is false", expr)
		}
	}
}

func TestServiceAndEnvironment(t *testing.T) {
	for _, tc := range []struct {
		labels      []string
		service     string
		environment string
	}{
		{[]string{"service", "checkout", "job", "api", "app", "web"}, "checkout", ""},
		{[]string{"job", "api", "app", "web"}, "web", ""}, // the app before the scrape job
		{[]string{"job", "kube-state-metrics", "deployment", "api"}, "api", ""},
		{[]string{"app", "web"}, "web", ""},
		{[]string{"service", "", "app", "web"}, "web", ""},
		{nil, "unknown", ""},
		{[]string{"env", "prod", "environment", "production"}, "unknown", "prod"},
		{[]string{"environment", "production"}, "unknown", "production"},
		{[]string{"env", "", "environment", "staging"}, "unknown", "staging"},
	} {
		env := newEnv(alert("X", tc.labels...), triaged.LabelledService(alert("X", tc.labels...)), evalTime)
		if env.Service != tc.service || env.Environment != tc.environment {
			t.Errorf("labels %v: service %q environment %q, want %q %q", tc.labels, env.Service, env.Environment, tc.service, tc.environment)
		}
	}
}

func TestActiveFor(t *testing.T) {
	start := evalTime.Add(-time.Hour)
	for _, tc := range []struct {
		name     string
		status   string
		startsAt time.Time
		endsAt   time.Time
		want     time.Duration
	}{
		{"firing", "firing", start, time.Time{}, time.Hour},
		{"firing with an expected end", "firing", start, evalTime.Add(time.Hour), time.Hour},
		{"resolved: until it ended", "resolved", start, start.Add(5 * time.Minute), 5 * time.Minute},
		{"resolved without an end", "resolved", start, time.Time{}, time.Hour},
		{"no start", "firing", time.Time{}, time.Time{}, 0},
		{"starts in the future", "firing", evalTime.Add(time.Minute), time.Time{}, 0},
	} {
		a := alert("X")
		a.Status, a.StartsAt, a.EndsAt = tc.status, tc.startsAt, tc.endsAt
		if got := newEnv(a, triaged.LabelledService(a), evalTime).ActiveFor; got != tc.want {
			t.Errorf("%s: active_for %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTimeOfDay(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		at            time.Time
		hour          int
		weekday       string
		businessHours bool
	}{
		{time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), 9, "Monday", true},
		{time.Date(2026, 11, 23, 8, 59, 59, 0, time.UTC), 8, "Monday", false},
		{time.Date(2026, 11, 27, 16, 59, 0, 0, time.UTC), 16, "Friday", true},
		{time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC), 17, "Friday", false},
		{time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), 12, "Saturday", false},
		{time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), 12, "Sunday", false},
		// The evaluation time's zone decides: 08:30 UTC is 09:30 in CET.
		{time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC).In(cet), 9, "Thursday", true},
		// 23:30 UTC on a Friday is Saturday in CET.
		{time.Date(2026, 11, 27, 23, 30, 0, 0, time.UTC).In(cet), 0, "Saturday", false},
	} {
		env := newEnv(alert("X"), triaged.LabelledService(alert("X")), tc.at)
		if env.Hour != tc.hour || env.Weekday != tc.weekday || env.BusinessHours() != tc.businessHours {
			t.Errorf("%v: hour %d weekday %s business_hours %t, want %d %s %t", tc.at, env.Hour, env.Weekday, env.BusinessHours(), tc.hour, tc.weekday, tc.businessHours)
		}
		if got := newEnv(alert("X"), triaged.LabelledService(alert("X")), tc.at).StartsAt.Location(); got != tc.at.Location() {
			t.Errorf("starts_at in %v, want the evaluation zone %v", got, tc.at.Location())
		}
	}
}

func TestDurationLiteralsAreConstants(t *testing.T) {
	program, err := compileExpr(`active_for > duration("15m")`, Env{}, reflect.Bool)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	root := program.Node()
	ast.Walk(&root, visitFunc(func(n *ast.Node) {
		if c, ok := (*n).(*ast.ConstantNode); ok && c.Value == 15*time.Minute {
			found = true
		}
	}))
	if !found {
		t.Errorf("duration(\"15m\") was not folded: %s", program.Node())
	}
	// A computed argument stays a call, checked at run time.
	if _, err := compileExpr(`active_for > duration(labels.for)`, Env{}, reflect.Bool); err != nil {
		t.Errorf("duration of a label: %v", err)
	}
}

func TestEscalationVocabulary(t *testing.T) {
	c := triaged.Classification{Severity: triaged.P3, Rule: "warning"}
	f := triaged.Enrichment{
		Changes: []triaged.Change{
			{Service: "api", Version: "v1", MinutesBefore: 600},
			{Service: "api", Version: "v2", MinutesBefore: 4, Suspect: true},
		},
		Probes: []triaged.Probe{
			{Name: "http", Kind: "http", OK: false, Error: "connection refused"},
			{Name: "tcp", Kind: "tcp", OK: true, LatencyMS: 1.5},
		},
		Logs: []triaged.LogTail{
			{Source: "journal", Lines: []string{"level=info msg=ok", "level=error msg=boom", "panic: oops"}},
			{Source: "file", Error: "permission denied"},
		},
	}
	env := newEscalationEnv(c, alert("HighCPU", "env", "prod"), triaged.LabelledService(alert("HighCPU", "env", "prod")), f, evalTime)
	for _, expr := range []string{
		`severity == "P3" && rule == "warning"`,
		`alertname == "HighCPU" && environment == "prod" && business_hours()`,
		`len(changes) == 2 && len(suspect_deploys) == 1 && suspect_deploys[0].version == "v2" && suspect_deploys[0].minutes_before == 4`,
		`len(probes) == 2 && len(failed_probes) == 1 && failed_probes[0].name == "http" && failed_probes[0].error contains "refused"`,
		`probes[1].ok && probes[1].latency_ms == 1.5`,
		`len(logs) == 2 && logs[1].error == "permission denied" && len(logs[0].lines) == 3`,
		`error_lines == ["level=error msg=boom", "panic: oops"]`,
		`raise(1) == "P2" && raise(2) == "P1" && raise(9) == "P1" && raise(0) == "P3" && raise(-1) == "P4" && raise(-9) == "P4"`,
	} {
		if !evalBool(t, expr, env) {
			t.Errorf("%s is false", expr)
		}
	}
	// raise follows the severity as escalation rules raise it.
	env.Severity = "P2"
	if !evalBool(t, `raise(1) == "P1"`, env) {
		t.Error("raise does not follow the current severity")
	}
}

func TestErrorLines(t *testing.T) {
	for line, want := range map[string]bool{
		`level=error msg="upstream timeout"`:             true,
		`{"level":"error","msg":"db down"}`:              true,
		`ERROR Connection refused`:                       true,
		`FATAL could not open file`:                      true,
		`panic: runtime error: index out of range`:       true,
		`java.lang.NullPointerException at Checkout.pay`: true,
		`Traceback (most recent call last):`:             true,
		`msg="write failed" err="disk full"`:             true,
		`level=crit msg=x`:                               true,
		`level=info msg="request served"`:                false,
		`level=info msg="0 errors so far" errorsTotal=0`: true, // a whole word "errors": accepted noise
		`level=info msg="terror on the dancefloor"`:      false,
		`level=debug msg="interrupted by signal"`:        false,
		`GET /api/errands 200`:                           false,
		`level=info msg="request failed, retrying"`:      true,
		`upstream timed out after 5s`:                    true,
		`level=info msg="failover test ok"`:              false,
	} {
		if got := errorLinePattern.MatchString(line); got != want {
			t.Errorf("%q is an error line: %t, want %t", line, got, want)
		}
		// A log tail keeps by default exactly the lines escalation rules count as errors.
		if got := regexp.MustCompile(logtail.DefaultFilter).MatchString(line); got != want {
			t.Errorf("%q is kept by the log tail's default filter: %t, want %t", line, got, want)
		}
	}
}

func TestNilMaps(t *testing.T) {
	// Hand-written alerts and payloads may lack maps; rules must still read them.
	a := &triaged.Alert{Alert: template.Alert{Status: "firing"}}
	env := newEnv(a, triaged.LabelledService(a), evalTime)
	if !evalBool(t, `alertname == "" && labels.x == "" && !has("x") && len(annotations) == 0 && service == "unknown" && active_for == duration("0s")`, env) {
		t.Error("an alert without maps does not read as empty")
	}
}

// The daemon maps alerts to catalog services before classifying; rules see that service, not
// their own reading of the labels.
func TestEnvSeesTheServiceItIsGiven(t *testing.T) {
	a := alert("X", "service", "checkout-api", "env", "prod")
	env := newEnv(a, triaged.Service{Name: "checkout", Environment: "production", Catalogue: triaged.InCatalog}, evalTime)
	if env.Service != "checkout" || env.Environment != "production" {
		t.Fatalf("service %q environment %q, want the mapped checkout/production", env.Service, env.Environment)
	}
	if env := newEnv(a, triaged.Service{}, evalTime); env.Service != "unknown" || env.Environment != "" {
		t.Fatalf("no service given: service %q environment %q, want unknown and none", env.Service, env.Environment)
	}
}

// With a default environment configured, an alert without an environment label is seen by the
// rules in that environment, marked as assumed: a default of staging engages staging rules.
func TestEnvAssumedEnvironment(t *testing.T) {
	l := triaged.DefaultLabelling()
	l.Environment = "staging"
	a := alert("TargetDown", "job", "api")
	env := newEnv(a, l.Service(a), evalTime)
	if !evalBool(t, `environment == "staging" && environment_assumed`, env) {
		t.Errorf("environment %q (assumed %v), want staging, assumed", env.Environment, env.EnvironmentAssumed)
	}
	labelled := alert("TargetDown", "job", "api", "env", "prod")
	if env := newEnv(labelled, l.Service(labelled), evalTime); env.Environment != "prod" || env.EnvironmentAssumed {
		t.Errorf("labelled: environment %q (assumed %v), want prod, not assumed", env.Environment, env.EnvironmentAssumed)
	}
}
