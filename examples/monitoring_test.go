package examples_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// TestMonitoringRules runs promtool on triaged's own alerting rules and their unit tests, which
// make each alert fire on a synthetic series and stay quiet on a healthy one.
func TestMonitoringRules(t *testing.T) {
	for _, args := range [][]string{
		{"check", "rules", "triaged.rules.yml"},
		{"test", "rules", "triaged.rules.test.yml"},
	} {
		cmd := exec.Command(tool(t, "promtool"), args...)
		cmd.Dir = "monitoring"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestGrafanaDashboardShape checks what Grafana's import needs and what a reader expects: a
// recent schema, the datasource variable on every query, a unit on every graph. That the
// queries name only metrics triaged exports is app/monitoring_test.go's job.
func TestGrafanaDashboardShape(t *testing.T) {
	data, err := os.ReadFile("monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Name, Type string
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			GridPos     struct{ W, H int } `json:"gridPos"`
			FieldConfig struct {
				Defaults struct {
					Unit string `json:"unit"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr, RefID, LegendFormat string
				Datasource                *struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	if d.SchemaVersion < 39 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q: want ≥ 39 and both set", d.SchemaVersion, d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	for name, typ := range map[string]string{"datasource": "datasource", "job": "query", "instance": "query"} {
		if vars[name] != typ {
			t.Errorf("template variable %q is %q, want %q", name, vars[name], typ)
		}
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no size", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not query ${datasource}", p.Title)
		}
		if p.Type != "table" && p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q has no unit", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Expr == "" || q.RefID == "" || q.LegendFormat == "" {
				t.Errorf("panel %q: a query lacks expr, refId or legendFormat: %+v", p.Title, q)
			}
			if q.Datasource != nil && q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: a query uses datasource %q", p.Title, q.Datasource.UID)
			}
		}
	}
}
