package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged"
)

// corpusExpectation is what the severity policy accepts for one alert of the corpus.
type corpusExpectation struct {
	Levels []string `yaml:"levels"`
	Why    string   `yaml:"why"`
}

// TestCorpus classifies the 299 alerts of public rule sets (testdata/alert-corpus) with the
// built-in rules and holds every decision to rules/testdata/corpus-expectations.yml, written from
// the policy in README.md. It prints the confusion table (author's severity label × P-level)
// that README.md shows, so a change to the rules shows its effect on alerts nobody here wrote.
func TestCorpus(t *testing.T) {
	data, err := os.ReadFile("../testdata/alert-corpus/alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []triaged.Alert
	if err := json.Unmarshal(data, &alerts); err != nil {
		t.Fatalf("alerts.json: %v", err)
	}
	data, err = os.ReadFile("testdata/corpus-expectations.yml")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]corpusExpectation
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("corpus-expectations.yml: %v", err)
	}

	rs := Default()
	now := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	table := map[string]*[5]int{}
	used := map[string]bool{}
	for i := range alerts {
		a := &alerts[i]
		name, sev := a.Labels["alertname"], a.Labels["severity"]
		c := rs.Classify(a, triaged.LabelledService(a), now)
		if table[sev] == nil {
			table[sev] = new([5]int)
		}
		level := c.Severity.String()
		if c.Dropped {
			level = "drop"
			table[sev][4]++
		} else {
			table[sev][int(c.Severity)-int(triaged.P1)]++
		}

		// The report says "other alerts may be missing" by this label (triage.MonitoringPipelineLabel).
		if pipeline := c.Labels["other_alerts_may_be_missing"] == "true"; pipeline != (c.Rule == "monitoring-pipeline") {
			t.Errorf("alert %d %s: rule %q, label other_alerts_may_be_missing %t", i+1, name, c.Rule, pipeline)
		}

		key := name + "@" + sev
		exp, ok := want[key]
		if !ok {
			key = name
			exp, ok = want[key]
		}
		if !ok {
			t.Errorf("alert %d %s (%s): no expectation in corpus-expectations.yml", i+1, name, sev)
			continue
		}
		used[key] = true
		if len(exp.Levels) == 0 || exp.Why == "" {
			t.Errorf("corpus-expectations.yml: %s: want levels and a reason (why)", key)
		}
		if !slices.Contains(exp.Levels, level) {
			t.Errorf("alert %d %s (%s): %s by rule %q, want one of %v: %s", i+1, name, sev, level, c.Rule, exp.Levels, exp.Why)
		}
	}
	for key := range want {
		if !used[key] {
			t.Errorf("corpus-expectations.yml: %s matches no alert of the corpus", key)
		}
	}
	conf := confusionTable(table)
	t.Log("\n" + conf)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), conf) {
		t.Errorf("README.md does not show the corpus's confusion table; put this one there:\n%s", conf)
	}
}

// confusionTable renders counts by author severity label (rows) and P-level or drop (columns) as
// the Markdown table README.md shows.
func confusionTable(table map[string]*[5]int) string {
	var b strings.Builder
	b.WriteString("| author's severity | P1 | P2 | P3 | P4 | dropped | total |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	rows := []string{"critical", "warning", "info", "none"}
	for sev := range table {
		if !slices.Contains(rows, sev) {
			rows = append(rows, sev)
		}
	}
	var total [5]int
	for _, sev := range rows {
		r := table[sev]
		if r == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d |\n", sev, r[0], r[1], r[2], r[3], r[4], r[0]+r[1]+r[2]+r[3]+r[4])
		for i := range total {
			total[i] += r[i]
		}
	}
	fmt.Fprintf(&b, "| total | %d | %d | %d | %d | %d | %d |\n", total[0], total[1], total[2], total[3], total[4], total[0]+total[1]+total[2]+total[3]+total[4])
	return b.String()
}
