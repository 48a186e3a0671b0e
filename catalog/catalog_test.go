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

func TestResolve(t *testing.T) {
	c, errs := catalog.Compile([]catalog.Service{
		{Name: "checkout", Environment: "production", Owners: []string{"alice"}, Dependencies: []string{"payments"}},
		{Name: "payments", Match: catalog.Match{Labels: map[string]string{"team": "pay", "tier": "1"}}},
		{Name: "db", Match: catalog.Match{Expr: `alertname matches "^Postgres" || labels.job == "postgres-exporter"`}},
		{Name: "broken-at-runtime", Match: catalog.Match{Expr: `labels.x[5:] == "y"`}},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	in, out := triaged.InCatalog, triaged.NotInCatalog
	tests := []struct {
		name    string
		alert   *triaged.Alert
		want    string
		env     string
		from    string
		catalog triaged.Catalogued
	}{
		{"service label", alert("alertname", "X", "service", "checkout", "env", "prod"), "checkout", "production", "the service catalog, label service", in},
		{"job when no service label", alert("alertname", "X", "job", "checkout"), "checkout", "production", "the service catalog, label job", in},
		{"service label wins over job", alert("alertname", "X", "service", "other", "job", "checkout", "env", "prod"), "other", "prod", "label service; not in the service catalog", out},
		{"label matchers, all of them", alert("alertname", "X", "team", "pay", "tier", "1", "environment", "staging"), "payments", "staging", "the service catalog, match of catalog service payments", in},
		{"label matchers, one missing", alert("alertname", "X", "team", "pay"), "unknown", "", "no service of the catalog matches, and no label of defaults.service_labels", out},
		{"expression", alert("alertname", "PostgresDown"), "db", "", "the service catalog, match of catalog service db", in},
		{"expression on a label", alert("alertname", "X", "job", "postgres-exporter"), "db", "", "the service catalog, match of catalog service db", in},
		{"a labelled service the catalog does not know", alert("alertname", "X", "app", "billing"), "billing", "", "label app; not in the service catalog", out},
		{"nothing", alert("alertname", "X"), "unknown", "", "no service of the catalog matches, and no label of defaults.service_labels", out},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.Resolve(tt.alert)
			if s.Name != tt.want || s.Environment != tt.env || s.From != tt.from || s.Catalogue != tt.catalog {
				t.Errorf("got %q in %q (%q, %v), want %q in %q (%q, %v)", s.Name, s.Environment, s.From, s.Catalogue, tt.want, tt.env, tt.from, tt.catalog)
			}
		})
	}
	if s := c.Resolve(alert("service", "checkout")); len(s.Owners) != 1 || len(s.Dependencies) != 1 {
		t.Errorf("catalog entry details not carried: %+v", s)
	}
}

func TestResolveWithoutCatalog(t *testing.T) {
	var none *catalog.Catalog
	tests := []struct {
		alert      *triaged.Alert
		want, from string
	}{
		{alert("service", "checkout", "job", "x"), "checkout", "label service"},
		{alert("job", "node", "app", "x"), "x", "label app"},
		{alert("app", "web"), "web", "label app"},
		{alert("alertname", "X"), "unknown", "no label of defaults.service_labels"},
	}
	for _, tt := range tests {
		s := none.Resolve(tt.alert)
		if s.Name != tt.want || s.From != tt.from || s.Catalogue != triaged.NoCatalog {
			t.Errorf("%v: got %q (%q, %v), want %q (%q, no catalog)", tt.alert.Labels, s.Name, s.From, s.Catalogue, tt.want, tt.from)
		}
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

// The catalog reads an alert's labels by the configured labelling: its precedence picks the name
// a catalog entry is matched by, and its default environment fills in what neither the entry nor
// a label says, marked as assumed.
func TestResolveWithLabelling(t *testing.T) {
	c, errs := catalog.Compile([]catalog.Service{{Name: "checkout-api"}, {Name: "orders", Environment: "production"}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c = c.WithLabelling(triaged.Labelling{
		ServiceLabels: triaged.DefaultServiceLabels, Exporters: triaged.DefaultExporters,
		EnvironmentLabels: []string{"stage"}, Environment: "staging",
	})
	tests := []struct {
		name               string
		alert              *triaged.Alert
		want, env, envFrom string
		assumed            bool
	}{
		{"the deployment, not kube-state-metrics, is in the catalog",
			alert("service", "kube-state-metrics", "deployment", "checkout-api", "namespace", "payments"),
			"checkout-api", "staging", "assumed from defaults.environment: no stage label", true},
		{"the configured environment label",
			alert("deployment", "checkout-api", "stage", "dev"), "checkout-api", "dev", "label stage", false},
		{"env is not a configured environment label",
			alert("deployment", "checkout-api", "env", "prod"), "checkout-api", "staging", "assumed from defaults.environment: no stage label", true},
		{"the catalog entry's environment wins over the assumption",
			alert("service", "orders"), "orders", "production", "the service catalog", false},
		{"not in the catalog: still assumed",
			alert("job", "billing"), "billing", "staging", "assumed from defaults.environment: no stage label", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.Resolve(tt.alert)
			if s.Name != tt.want || s.Environment != tt.env || s.EnvironmentFrom != tt.envFrom || s.EnvironmentAssumed != tt.assumed {
				t.Errorf("got %q in %q (%q, assumed %v), want %q in %q (%q, assumed %v)", s.Name, s.Environment, s.EnvironmentFrom, s.EnvironmentAssumed, tt.want, tt.env, tt.envFrom, tt.assumed)
			}
		})
	}
}
