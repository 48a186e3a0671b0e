package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/rules"
)

// TestExplainAPIAnswersAsCLI: POST /api/v1/rules/explain answers, for each alert, the very JSON
// object `triagetool explain --output json` prints for it: on a captured webhook with the rules in
// force (the built-in ones), and on one alert with a candidate rule text and facts, the CLI
// reading the same text from a file named as the API names a candidate ("rules").
func TestExplainAPIAnswersAsCLI(t *testing.T) {
	e, err := rules.NewEngine(nil, rules.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := api.NewRulesHandler(api.RulesOptions{Rules: e})
	read := func(path string) []byte {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	abs := func(path string) string {
		t.Helper()
		p, err := filepath.Abs(path)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	webhook := abs("../../testdata/alertmanager/firing-3-alerts.json")
	alert, facts := abs("testdata/alert.json"), abs("testdata/facts.json")
	candidate := string(read("testdata/good.rules.yml"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules"), []byte(candidate), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	quoted, _ := json.Marshal(candidate)

	for _, tc := range []struct {
		name string
		cli  []string
		body string
	}{
		{"webhook, rules in force", []string{"explain", "--output=json", evalTime, webhook},
			`{"webhook": ` + string(read(webhook)) + `, "now": "2026-11-26T15:10:00Z"}`},
		{"alert, candidate and facts", []string{"explain", "--output=json", "--rules", "rules", "--facts", facts, "--all", evalTime, alert},
			`{"alert": ` + string(read(alert)) + `, "rules": ` + string(quoted) + `, "facts": ` + string(read(facts)) + `, "all": true, "now": "2026-11-26T15:10:00Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.cli, &stdout, &stderr); code != exitOK {
				t.Fatalf("triagetool %s: exit %d: %s", strings.Join(tc.cli, " "), code, stderr.String())
			}
			cliLines := strings.Split(strings.TrimSpace(stdout.String()), "\n")

			req := httptest.NewRequest(http.MethodPost, "/api/v1/rules/explain", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("POST /api/v1/rules/explain: %d %s", rec.Code, rec.Body)
			}
			var answer struct {
				Explanations []json.RawMessage `json:"explanations"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
				t.Fatal(err)
			}
			if len(answer.Explanations) != len(cliLines) {
				t.Fatalf("the API explained %d alerts, the CLI %d", len(answer.Explanations), len(cliLines))
			}
			for i, line := range cliLines {
				if got := string(answer.Explanations[i]); got != line {
					t.Errorf("alert %d:\nAPI: %s\nCLI: %s", i+1, got, line)
				}
			}
		})
	}
}
