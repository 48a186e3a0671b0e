package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
)

// TestRulesAPI on a running daemon: the rules in force with their file positions and the counts
// of a known stream of alerts; a failed reload shown with its position, the counts kept; explain
// guarded by the write tokens, answering for the rules in force or for a candidate text.
func TestRulesAPI(t *testing.T) {
	dir := t.TempDir()
	token := writeFile(t, filepath.Join(dir, "api.token"), tokenA)
	rulesFile := writeFile(t, filepath.Join(dir, "team.rules.yml"),
		"default: P4\nrules:\n  - name: staging-down\n    when: environment == \"staging\" && alertname == \"TargetDown\"\n    severity: P2\n  - name: never\n    when: alertname == \"Nope\"\n    severity: P1\n")
	cfg := configFile(t, reportAtOnce+"rules:\n  files: ["+rulesFile+"]\n")
	r := start(t, app.Options{ConfigFile: cfg, AuthTokenFiles: []string{token}})
	webhook, err := os.ReadFile("../testdata/alertmanager/firing-3-alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := send(t, "POST", r.url+"/api/v1/alerts", "Bearer "+tokenA, webhook); resp.StatusCode != 200 {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	r.waitReports(t, 1)

	type listing struct {
		Version    string   `json:"version"`
		Files      []string `json:"files"`
		LastReload struct {
			Success bool    `json:"success"`
			Error   *string `json:"error"`
		} `json:"last_reload"`
		Default struct{ Matches int } `json:"default"`
		Rules   []struct {
			Name      string     `json:"name"`
			Pos       string     `json:"pos"`
			Matches   int        `json:"matches"`
			LastMatch *time.Time `json:"last_match"`
		} `json:"rules"`
		Shadow any `json:"shadow"`
	}
	list := func() listing {
		t.Helper()
		code, body := r.get(t, "/api/v1/rules") // a read: no token needed
		var l listing
		if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil {
			t.Fatalf("GET /api/v1/rules: %d %v %s", code, err, body)
		}
		return l
	}
	l := list()
	// The three alerts are classified on arrival, and the incident's representative once more
	// when it is investigated: 4, as triaged_rule_matches_total counts them.
	metric := metrictest.Value(t, r.app.Registry(), "triaged_rule_matches_total", "stage", "classify", "rule", "staging-down")
	if len(l.Rules) != 2 || l.Rules[0].Name != "staging-down" || l.Rules[0].Matches != 4 || float64(l.Rules[0].Matches) != metric ||
		l.Rules[0].Pos != rulesFile+":3:5" || l.Rules[0].LastMatch == nil || time.Since(*l.Rules[0].LastMatch) > time.Minute ||
		l.Rules[1].Matches != 0 || l.Rules[1].LastMatch != nil || l.Default.Matches != 0 {
		t.Fatalf("rules after the stream (metric %v): %+v", metric, l)
	}
	if len(l.Files) != 1 || l.Files[0] != rulesFile || !l.LastReload.Success || l.LastReload.Error != nil || l.Shadow != nil {
		t.Fatalf("files %v, last reload %+v, shadow %v", l.Files, l.LastReload, l.Shadow)
	}

	// A broken edit: the reload fails, the listing says where, the rules and counts stay.
	writeFile(t, rulesFile, "rules:\n  - name: broken\n    when: lables.x == \"y\"\n    severity: P1\n")
	if resp, _ := send(t, "POST", r.url+"/-/reload", "Bearer "+tokenA, nil); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("reload of a broken file: %d", resp.StatusCode)
	}
	if after := list(); after.LastReload.Success || after.LastReload.Error == nil || !strings.Contains(*after.LastReload.Error, rulesFile+":3:11") ||
		after.Version != l.Version || after.Rules[0].Matches != 4 {
		t.Fatalf("after a failed reload: %+v", after)
	}

	explain := `{"alert": {"labels": {"alertname": "TargetDown", "env": "staging", "service": "payments-api"}}, "now": "2026-11-26T15:10:00Z"}`
	for _, auth := range []string{"", "Bearer not-the-token-0123456789"} {
		if resp, body := send(t, "POST", r.url+"/api/v1/rules/explain", auth, []byte(explain)); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("explain with %q: %d %s, want 401", auth, resp.StatusCode, body)
		}
	}
	resp, body := send(t, "POST", r.url+"/api/v1/rules/explain", "Bearer "+tokenA, []byte(explain))
	if resp.StatusCode != 200 || !strings.Contains(body, `"rule":"staging-down"`) || !strings.Contains(body, `"pos":"`+rulesFile+`:3:5"`) {
		t.Fatalf("explain with the rules in force: %d %s", resp.StatusCode, body)
	}
	candidate := strings.Replace(explain, `"now"`, `"rules": "rules:\n  - {name: all-p1, when: 'true', severity: P1}\n", "now"`, 1)
	if resp, body := send(t, "POST", r.url+"/api/v1/rules/explain", "Bearer "+tokenA, []byte(candidate)); resp.StatusCode != 200 || !strings.Contains(body, `"severity":"P1","rule":"all-p1"`) {
		t.Fatalf("explain with a candidate: %d %s", resp.StatusCode, body)
	}
	broken := strings.Replace(explain, `"now"`, `"rules": "rules:\n  - {name: b, when: 'lables.x', severity: P1}\n", "now"`, 1)
	if resp, body := send(t, "POST", r.url+"/api/v1/rules/explain", "Bearer "+tokenA, []byte(broken)); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"pos":"rules:2:21"`) {
		t.Fatalf("explain with a broken candidate: %d %s", resp.StatusCode, body)
	}
	huge := []byte(`{"alert": {"labels": {"alertname": "` + strings.Repeat("x", 1<<20) + `"}}}`)
	if resp, body := send(t, "POST", r.url+"/api/v1/rules/explain", "Bearer "+tokenA, huge); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("explain of 1 MiB: %d %s", resp.StatusCode, body)
	}
	// Explaining changed nothing: the rules in force and their counts are as before.
	if after := list(); after.Version != l.Version || after.Rules[0].Matches != 4 {
		t.Fatalf("after explaining: %+v", after)
	}
}
