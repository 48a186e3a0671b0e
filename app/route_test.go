package app_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/testkit"
)

// TestRoutesEndToEnd: with a route sending P1 to one file sink and every report to another, a P1
// incident's report lands in both files and a P3 incident's in the second only.
func TestRoutesEndToEnd(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("sev.rules.yml", "default: P3\nrules:\n  - name: down\n    when: alertname == \"CheckoutDown\"\n    severity: P1\n")
	cfg := write("triaged.yml", reportAtOnce+`rules:
  files: [sev.rules.yml]
sinks:
  - name: pages
    type: file
    path: pages.jsonl
  - name: all
    type: file
    path: all.jsonl
routes:
  - name: pages
    matchers: ['severity="P1"']
    sinks: [pages]
    continue: true
  - name: everything
    sinks: [all]
`)
	r := start(t, app.Options{ConfigFile: cfg})
	r.post(t, webhook("CheckoutDown", "2026-11-26T15:08:31Z"))
	r.post(t, webhook("DiskFilling", "2026-11-26T15:09:31Z"))

	pages, all := filepath.Join(dir, "pages.jsonl"), filepath.Join(dir, "all.jsonl")
	testkit.Eventually(t, testTimeout, "both reports in all.jsonl", func() bool { return len(readFileSink(t, all)) == 2 })
	r.settled(t)

	got := func(path string) []string {
		var out []string
		for _, rep := range readFileSink(t, path) {
			out = append(out, fmt.Sprintf("%s %s %s", rep.AlertName, rep.Severity, rep.Event))
		}
		slices.Sort(out)
		return out
	}
	if g, w := got(pages), []string{"CheckoutDown P1 opened"}; !slices.Equal(g, w) {
		t.Errorf("pages.jsonl holds %q, want %q", g, w)
	}
	if g, w := got(all), []string{"CheckoutDown P1 opened", "DiskFilling P3 opened"}; !slices.Equal(g, w) {
		t.Errorf("all.jsonl holds %q, want %q", g, w)
	}
}

// webhook is an Alertmanager notification of one firing alert of checkout.
func webhook(alertname, startsAt string) []byte {
	body, _ := json.Marshal(map[string]any{
		"version": "4", "status": "firing", "receiver": "webhook", "externalURL": "http://am.example:9093",
		"groupKey":    fmt.Sprintf(`{}:{alertname=%q}`, alertname),
		"groupLabels": map[string]string{"alertname": alertname},
		"alerts": []map[string]any{{
			"status": "firing", "startsAt": startsAt, "endsAt": time.Time{}.Format(time.RFC3339),
			"labels":      map[string]string{"alertname": alertname, "service": "checkout", "instance": "c-1:8080"},
			"annotations": map[string]string{"summary": alertname + " on checkout"},
		}},
	})
	return body
}

// readFileSink reads a file sink's reports; a missing file holds none.
func readFileSink(t *testing.T, path string) []*triaged.Report {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var reps []*triaged.Report
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		rep, err := triaged.DecodeReport(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		reps = append(reps, rep)
	}
	return reps
}
