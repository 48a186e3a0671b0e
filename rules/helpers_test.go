package rules

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
)

// evalTime is a Thursday afternoon, in business hours.
var evalTime = time.Date(2026, 11, 26, 15, 10, 0, 0, time.UTC)

// alert returns a firing alert that started ten minutes before evalTime, with alertname name and
// the given label pairs.
func alert(name string, labelPairs ...string) *triaged.Alert {
	labels := template.KV{"alertname": name}
	for i := 0; i+1 < len(labelPairs); i += 2 {
		labels[labelPairs[i]] = labelPairs[i+1]
	}
	return &triaged.Alert{
		Alert: template.Alert{
			Status:      triaged.StatusFiring,
			Labels:      labels,
			Annotations: template.KV{"summary": "something " + name},
			StartsAt:    evalTime.Add(-10 * time.Minute),
		},
		Group: triaged.Group{Receiver: "webhook", Labels: template.KV{"alertname": name}, Size: 1},
	}
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustParse compiles a rule file given as text.
func mustParse(t testing.TB, text string) *RuleSet {
	t.Helper()
	rs, err := Parse("test.yml", []byte(text))
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	return rs
}
