package catalog_test

import (
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/catalog"
)

func alert(labels ...string) *triaged.Alert {
	a := &triaged.Alert{Alert: template.Alert{Labels: template.KV{}}}
	for i := 0; i+1 < len(labels); i += 2 {
		a.Labels[labels[i]] = labels[i+1]
	}
	return a
}

func TestLookup(t *testing.T) {
	c, errs := catalog.Compile([]catalog.Service{
		{Name: "checkout"},
		{Name: "payments", Match: catalog.Match{Labels: map[string]string{"team": "pay", "tier": "1"}}},
		{Name: "db", Match: catalog.Match{Expr: `alertname matches "^Postgres" || labels.job == "postgres-exporter"`}},
		{Name: "broken-at-runtime", Match: catalog.Match{Expr: `labels.x[5:] == "y"`}},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		name  string
		alert *triaged.Alert
		want  string
		how   string
	}{
		{"service label", alert("alertname", "X", "service", "checkout"), "checkout", "label service"},
		{"job when no service label", alert("alertname", "X", "job", "checkout"), "checkout", "label job"},
		{"service label wins over job", alert("alertname", "X", "service", "other", "job", "checkout"), "", ""},
		{"label matchers, all of them", alert("alertname", "X", "team", "pay", "tier", "1"), "payments", "match of catalog service payments"},
		{"label matchers, one missing", alert("alertname", "X", "team", "pay"), "", ""},
		{"expression", alert("alertname", "PostgresDown"), "db", "match of catalog service db"},
		{"expression on a label", alert("alertname", "X", "job", "postgres-exporter"), "db", "match of catalog service db"},
		{"nothing", alert("alertname", "X"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, how := c.Lookup(tt.alert)
			got := ""
			if s != nil {
				got = s.Name
			}
			if got != tt.want || how != tt.how {
				t.Errorf("got %q (%q), want %q (%q)", got, how, tt.want, tt.how)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	_, errs := catalog.Compile([]catalog.Service{
		{Name: ""},
		{Name: "a b"},
		{Name: "x", Dependencies: []string{"y", "x"}},
		{Name: "x"},
		{Name: "z", Match: catalog.Match{Expr: `lables.a == "b"`}},
		{Name: "w", Match: catalog.Match{Expr: `labels.a`}},
		{Name: "clock", Match: catalog.Match{Expr: `now().Hour() > 9`}},
		{Name: "label-regex", Match: catalog.Match{Expr: `alertname matches labels.pattern`}},
		{Name: "zones", Match: catalog.Match{Expr: `date("2026-01-01") < date("2027-01-01")`}},
	})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		"[0].name: required",
		`[1].name: "a b" is not a valid service name`,
		"[2].dependencies[1]: a service cannot depend on itself",
		`[3].name: service "x" is defined twice`,
		"[4].match.expr: unknown name lables",
		"[5].match.expr: must yield true or false: expected bool, but got string",
		// The policy of the rules and runbooks: no wall clock, no time zone files, and a pattern
		// is a literal compiled at load, never a label.
		"[6].match.expr: unknown name now (1:1)\n     | now().Hour() > 9\n     | ^",
		"[7].match.expr: the pattern of matches must be a string literal (it is compiled once, at load time) (1:26)",
		"[8].match.expr: unknown name date (1:1)",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d: %q, want prefix %q", i, got[i], want[i])
		}
	}
}
