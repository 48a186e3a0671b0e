package app_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/testkit"
)

// TestMonitoringUsesExportedMetrics parses every query of the Grafana dashboard and every
// expression of the alerting rules in examples/monitoring/ and checks that each metric they
// select is one a running triaged exports, so a renamed metric cannot leave a silent panel or an
// alert that never fires.
func TestMonitoringUsesExportedMetrics(t *testing.T) {
	uses := map[string][]string{} // metric name → where it is used
	for _, q := range dashboardQueries(t, "../examples/monitoring/grafana-dashboard.json") {
		addUses(t, uses, q.where, q.expr)
	}
	recorded := map[string]bool{}
	for _, q := range ruleQueries(t, "../examples/monitoring/triaged.rules.yml", recorded) {
		addUses(t, uses, q.where, q.expr)
	}
	if len(uses) < 20 {
		t.Fatalf("found only %d metric names in the dashboard and rules: the parsing is broken", len(uses))
	}

	exported := scrapeExercised(t)
	for _, name := range slices.Sorted(maps.Keys(uses)) {
		where := uses[name]
		switch {
		case exported[name], recorded[name]:
		case name == "up": // made by Prometheus for every target
		default:
			t.Errorf("%s is not exported by triaged; used by %s", name, strings.Join(where, "; "))
		}
	}
}

type query struct{ where, expr string }

// grafanaVars are Grafana's template variables, replaced by what PromQL accepts in their places:
// the interval ones stand where durations go, the others inside label matchers' quotes.
var grafanaVars = regexp.MustCompile(`\$(\{[a-zA-Z_]\w*(:\w+)?\}|[a-zA-Z_]\w*)`)

func expandGrafana(expr string) string {
	return grafanaVars.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.HasPrefix(strings.Trim(v, "${"), "__") {
			return "5m" // $__rate_interval, $__interval, $__range
		}
		return "x"
	})
}

func dashboardQueries(t *testing.T, path string) []query {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"` // a collapsed row's
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var qs []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				qs = append(qs, query{fmt.Sprintf("dashboard panel %q query %s", p.Title, tg.RefID), expandGrafana(tg.Expr)})
			}
			var inner []panel
			for _, raw := range p.Panels {
				var c panel
				if err := json.Unmarshal(raw, &c); err != nil {
					t.Fatalf("%s: panel %q: %v", path, p.Title, err)
				}
				inner = append(inner, c)
			}
			walk(inner)
		}
	}
	walk(d.Panels)
	// label_values(SELECTOR, label): the selector is PromQL.
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("%s: variable %q: %v", path, v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("%s: variable %q: query %q is not label_values(selector, label)", path, v.Name, q.Query)
		}
		qs = append(qs, query{fmt.Sprintf("dashboard variable %q", v.Name), expandGrafana(m[1])})
	}
	return qs
}

// ruleQueries returns the rules' expressions, and adds the names they record to recorded.
func ruleQueries(t *testing.T, path string, recorded map[string]bool) []query {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string
			Rules []struct{ Record, Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var qs []query
	for _, g := range f.Groups {
		for i, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
			qs = append(qs, query{fmt.Sprintf("rules group %q rule %d %q", g.Name, i+1, r.Alert+r.Record), r.Expr})
		}
	}
	return qs
}

func addUses(t *testing.T, uses map[string][]string, where, expr string) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return
	}
	n := 0
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && name == "" {
				name = m.Value
			}
		}
		if name == "" {
			t.Errorf("%s: a selector without a metric name: %s", where, vs)
			return nil
		}
		n++
		if !slices.Contains(uses[name], where) {
			uses[name] = append(uses[name], where)
		}
		return nil
	})
	if n == 0 && !strings.Contains(where, "rules group") {
		t.Errorf("%s selects no metric: %s", where, expr)
	}
}

// scrapeExercised runs a triaged, makes it triage a captured webhook, deliver the report, drop
// an alert by a rule and dead-letter a poison message, and returns the names its /metrics serves: each family's name,
// and for histograms and summaries the series names Prometheus stores (_bucket, _sum, _count).
func scrapeExercised(t *testing.T) map[string]bool {
	t.Helper()
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce)})
	r.postFile(t, "firing-3-alerts.json")
	r.waitReports(t, 1)
	inhibitor, err := os.ReadFile("../testdata/alertmanager/firing-1-alert.json")
	if err != nil {
		t.Fatal(err)
	}
	r.post(t, []byte(strings.ReplaceAll(string(inhibitor), "AlwaysFiring", "InfoInhibitor"))) // the default rules drop it
	names := broker.MustNames(r.app.Config().NATS.Prefix)
	if err := r.app.Conn().Publish(names.AlertSubject("firing"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	var text string
	testkit.Eventually(t, 10*time.Second, "the InfoInhibitor dropped and the poison message dead-lettered", func() bool {
		_, text = r.get(t, "/metrics")
		return strings.Contains(text, "triaged_dead_letters_total{") && strings.Contains(text, "triaged_alerts_dropped_total{")
	})
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	exported := map[string]bool{}
	for name, mf := range families {
		exported[name] = true
		switch mf.GetType().String() {
		case "HISTOGRAM", "GAUGE_HISTOGRAM":
			exported[name+"_bucket"], exported[name+"_sum"], exported[name+"_count"] = true, true, true
		case "SUMMARY":
			exported[name+"_sum"], exported[name+"_count"] = true, true
		}
	}
	return exported
}
