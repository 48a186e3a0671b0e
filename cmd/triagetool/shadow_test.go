package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/rules"
)

// shadowDaemon serves GET /api/v1/rules/shadow of a shadow set running candidate beside the
// shadow tests' rules in force, shown a known stream of alerts; no candidate: none runs.
func shadowDaemon(t *testing.T, candidate string) *httptest.Server {
	t.Helper()
	var s api.ShadowRules
	if candidate != "" {
		inForce, err := rules.LoadFiles("../../rules/testdata/shadow/in-force.rules.yml")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		shadow, err := rules.NewShadow([]string{candidate}, rules.ShadowOptions{Now: func() time.Time { return start }})
		if err != nil {
			t.Fatal(err)
		}
		svc := triaged.Service{Name: "checkout"}
		for i, labels := range []template.KV{
			{"alertname": "HighLatency", "env": "prod", "instance": "web-1"},
			{"alertname": "HighLatency", "env": "staging"},
			{"alertname": "DiskAlmostFull", "instance": "db-1"},
			{"alertname": "CheckoutErrors", "tier": "frontend"},
			{"alertname": "HighLatency", "env": "prod", "instance": "web-2"},
		} {
			a := &triaged.Alert{Alert: template.Alert{Status: triaged.StatusFiring, StartsAt: start, Labels: labels}}
			now := start.Add(time.Duration(i) * time.Minute)
			c := inForce.Classify(a, svc, now)
			shadow.CompareClassify(c, a, svc, now)
			shadow.CompareEscalate(c, inForce.Escalate(c, a, svc, triaged.Enrichment{}, now), a, svc, triaged.Enrichment{}, now)
		}
		s = shadow
	}
	srv := httptest.NewServer(api.NewShadowHandler(s, nil))
	t.Cleanup(srv.Close)
	return srv
}

// TestShadowCLI reads the shadow rules of a daemon and compares exit codes and output with
// golden files. {url} is the daemon.
func TestShadowCLI(t *testing.T) {
	disagreeing := shadowDaemon(t, "../../rules/testdata/shadow/candidate.rules.yml")
	agreeing := shadowDaemon(t, "../../rules/testdata/shadow/in-force.rules.yml")
	none := shadowDaemon(t, "")
	down := httptest.NewServer(nil)
	down.Close()
	for _, c := range []struct {
		name string
		url  string
		args []string
	}{
		{"shadow-disagreements", disagreeing.URL, []string{"shadow", "--web.url", "{url}"}},
		{"shadow-limit-json", disagreeing.URL, []string{"shadow", "--web.url={url}/", "--limit", "2", "--output", "json"}},
		{"shadow-agree", agreeing.URL, []string{"shadow", "--web.url", "{url}"}},
		{"shadow-none", none.URL, []string{"shadow", "--web.url", "{url}"}},
		{"shadow-down", down.URL, []string{"shadow", "--web.url", "{url}"}},
		{"shadow-bad-output", disagreeing.URL, []string{"shadow", "--output", "yaml"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "{url}", c.url)
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			got := fmt.Sprintf("$ triagetool %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(c.args, " "), code, stdout.String(), stderr.String())
			got = strings.ReplaceAll(got, c.url, "http://triaged.test:9095")
			got = strings.ReplaceAll(got, strings.TrimPrefix(c.url, "http://"), "triaged.test:9095")
			golden.Check(t, filepath.Join("testdata", "golden", c.name+".golden"), []byte(got))
		})
	}
}

// TestREADMEShadowSample: the README's `triagetool shadow` sample is what the tool prints (the
// golden file of TestShadowCLI), with the candidate where a daemon would have it.
func TestREADMEShadowSample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const fence = "```console\n$ triagetool shadow --web.url http://localhost:9095\n"
	i := bytes.Index(readme, []byte(fence))
	if i < 0 {
		t.Fatal("README.md has no console block starting with $ triagetool shadow")
	}
	sample, _, _ := strings.Cut(string(readme[i+len(fence):]), "```")
	gold, err := os.ReadFile("testdata/golden/shadow-disagreements.golden")
	if err != nil {
		t.Fatal(err)
	}
	_, out, _ := strings.Cut(string(gold), "--- stdout\n")
	out, _, _ = strings.Cut(out, "--- stderr\n")
	out = strings.Replace(out, "../../rules/testdata/shadow/candidate.rules.yml", "/etc/triaged/candidate.rules.yml", 1)
	if sample != out {
		t.Errorf("README.md's triagetool shadow sample differs from what it prints:\n%s", golden.Diff(out, sample))
	}
}
