package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/rules"
)

// evalAt is the evaluation time of the captured webhooks: they fired at 15:08-15:09 on a Thursday.
var evalAt = time.Date(2026, 11, 26, 15, 10, 0, 0, time.UTC)

func captured(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/alertmanager", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rulesRequest(t *testing.T, h http.Handler, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return rec.Code, rec.Body.Bytes()
}

// scrubTimes replaces the times that are the test's wall clock (when the rule set was loaded) by
// a placeholder, after checking they are recent RFC 3339 UTC times.
func scrubTimes(t *testing.T, b []byte) []byte {
	t.Helper()
	re := regexp.MustCompile(`"(installed|time)": "([^"]+)"`)
	return re.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := re.FindSubmatch(m)
		at, err := time.Parse(time.RFC3339Nano, string(sub[2]))
		if err != nil || at.Location() != time.UTC || time.Since(at) > time.Minute || time.Since(at) < 0 {
			t.Errorf("%s = %s: want a recent RFC 3339 UTC time (%v)", sub[1], sub[2], err)
		}
		return []byte(`"` + string(sub[1]) + `": "(wall clock)"`)
	})
}

// TestRulesList: the built-in rules with their positions, and counts and last match times that
// follow a known stream of alerts exactly: the captured webhooks, classified as triage does.
func TestRulesList(t *testing.T) {
	e, err := rules.NewEngine(nil, rules.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := api.NewRulesHandler(api.RulesOptions{Rules: e, ShadowSummary: func() any { return nil }})
	// firing-10: 10 alerts in prod (critical and warning); firing-3: 3 staging TargetDown;
	// resolved-1: an alert without environment. firing-3 again, an hour later.
	stream := []struct {
		file string
		at   time.Time
	}{
		{"firing-10-alerts.json", evalAt},
		{"firing-3-alerts.json", evalAt},
		{"resolved-1-alert.json", evalAt},
		{"firing-3-alerts.json", evalAt.Add(time.Hour)},
	}
	classified := 0
	for _, s := range stream {
		b, err := triaged.DecodeWebhook(captured(t, s.file), s.at)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range b.Split() {
			e.Classify(&a, triaged.LabelledService(&a), s.at)
			classified++
		}
	}

	code, b := rulesRequest(t, h, http.MethodGet, "/api/v1/rules", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/rules: %d %s", code, b)
	}
	var got struct {
		Default struct{ Matches int } `json:"default"`
		Rules   []struct {
			Name      string
			Stage     string
			Pos       string
			Matches   int
			LastMatch *time.Time `json:"last_match"`
		} `json:"rules"`
		Shadow any `json:"shadow"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	sum := got.Default.Matches
	for _, r := range got.Rules {
		sum += r.Matches
		if r.Name == "staging-outage" && (r.Matches != 6 || r.LastMatch == nil || !r.LastMatch.Equal(evalAt.Add(time.Hour)) || r.Pos != "default.rules.yml:39:5") {
			t.Errorf("staging-outage: %d matches, last %v, at %s; want 6, %v, default.rules.yml:39:5", r.Matches, r.LastMatch, r.Pos, evalAt.Add(time.Hour))
		}
	}
	if sum != classified || len(got.Rules) != len(rules.Default().Rules(rules.StageClassify))+len(rules.Default().Rules(rules.StageEscalate)) || got.Shadow != nil {
		t.Errorf("%d matches in all for %d alerts classified; %d rules; shadow %v", sum, classified, len(got.Rules), got.Shadow)
	}
	golden.Check(t, "testdata/rules.golden.json", scrubTimes(t, indented(t, b)))

	// The shadow summary is given as it is.
	h = api.NewRulesHandler(api.RulesOptions{Rules: e, ShadowSummary: func() any { return map[string]int{"disagreements": 2} }})
	if _, b := rulesRequest(t, h, http.MethodGet, "/api/v1/rules", nil); !bytes.Contains(b, []byte(`"shadow":{"disagreements":2}`)) {
		t.Errorf("shadow summary not in %s", b)
	}
}

const candidateRules = `default: P4
rules:
  - name: payments-first
    description: payments pages, in every environment
    when: service == "payments-api"
    severity: P1
`

// TestRulesExplain: the answers of POST /api/v1/rules/explain, errors included, with the place of
// what was wrong.
func TestRulesExplain(t *testing.T) {
	e, err := rules.NewEngine(nil, rules.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := api.NewRulesHandler(api.RulesOptions{Rules: e, MaxAlerts: 5, MaxRuleBytes: 4096})
	webhook := string(captured(t, "firing-3-alerts.json"))
	oneAlert := `{"labels": {"alertname": "TargetDown", "service": "payments-api", "env": "staging"}, "startsAt": "2026-11-26T15:09:00Z"}`
	now := `"now": "2026-11-26T15:10:00Z"`
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	for _, tc := range []struct {
		name   string
		method string
		body   string
		code   int
		want   string // in the body; the whole body is the golden file
	}{
		{"webhook", "POST", `{"webhook": ` + webhook + `, ` + now + `}`, 200, `"rules":"in force"`},
		{"alert", "POST", `{"alert": ` + oneAlert + `, ` + now + `}`, 200, `"rule":"staging-outage"`},
		{"candidate", "POST", `{"alert": ` + oneAlert + `, "rules": ` + str(candidateRules) + `, ` + now + `}`, 200, `"severity":"P1","rule":"payments-first"`},
		{"candidate-lint", "POST", `{"alert": ` + oneAlert + `, "rules": ` + str("rules:\n  - {name: x, when: 'false', severity: P2}\n") + `, ` + now + `}`, 200, `"warnings":[`},
		{"facts", "POST", `{"alert": ` + strings.Replace(oneAlert, "staging", "prod", 1) + `, "facts": {"probes": [{"name": "http", "target": "x", "ok": false}]}, ` + now + `}`, 200, `"rule":"all-probes-failing"`},
		{"broken-candidate", "POST", `{"alert": ` + oneAlert + `, "rules": ` + str("default: P4\nrules:\n  - name: broken\n    when: lables.x == \"y\"\n    severity: P1\n  - name: bad-severity\n    when: true\n    severity: P9\n") + `}`, 422, `"pos":"rules:4:11","line":4,"column":11`},
		{"neither", "POST", `{` + now + `}`, 400, `give \"alert\"`},
		{"both", "POST", `{"alert": ` + oneAlert + `, "webhook": ` + webhook + `}`, 400, `not both`},
		{"unknown-field", "POST", "{\n  \"alert\": " + oneAlert + ",\n  \"rule\": \"x\"\n}", 400, `line 3, column`},
		{"bad-type", "POST", `{"alert": {"labels": {"alertname": 5}}}`, 400, `line 1, column`},
		{"bad-now", "POST", `{"alert": ` + oneAlert + `, "now": "yesterday"}`, 400, `now: invalid time`},
		{"bad-facts", "POST", `{"alert": ` + oneAlert + `, "facts": {"probez": []}}`, 400, `facts: invalid: line 1, column 142`},
		{"empty-rules", "POST", `{"alert": ` + oneAlert + `, "rules": " \n"}`, 400, `rules: empty`},
		{"too-many-alerts", "POST", `{"webhook": ` + string(captured(t, "firing-10-alerts.json")) + `}`, 413, `10 alerts, at most 5`},
		{"rules-too-big", "POST", `{"alert": ` + oneAlert + `, "rules": ` + str(strings.Repeat("# padding\n", 500)) + `}`, 413, `larger than the limit of 4096 bytes`},
		{"get", "GET", ``, 405, `method GET not allowed`},
		{"not-an-object", "POST", `[` + oneAlert + `]`, 400, `want an object with \"alert\" or \"webhook\", not a list`},
		{"truncated", "POST", "{\"alert\": {\"labels\":\n", 400, `line 2, column 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b := rulesRequest(t, h, tc.method, "/api/v1/rules/explain", []byte(tc.body))
			if code != tc.code || !bytes.Contains(b, []byte(tc.want)) {
				t.Fatalf("%d %s\nwant %d and %s", code, b, tc.code, tc.want)
			}
			golden.Check(t, "testdata/explain-"+tc.name+".golden.json", indented(t, b))
		})
	}

	// A body over the limit is refused before it is read whole.
	small := api.NewRulesHandler(api.RulesOptions{Rules: e, MaxBodyBytes: 1024})
	if code, b := rulesRequest(t, small, "POST", "/api/v1/rules/explain", []byte(`{"webhook": `+webhook+`}`)); code != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte("larger than the limit of 1024 bytes")) {
		t.Errorf("oversize body: %d %s", code, b)
	}
	// Explaining changes nothing: the rules in force counted no match.
	for _, r := range e.Status().Classify {
		if r.Matches != 0 {
			t.Errorf("explain counted a match of %s", r.Name)
		}
	}
}
