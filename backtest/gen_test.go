package backtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/rules"
)

// ruleFile returns a rule file of n rules in the four shapes rule authors write (those of
// rules/bench_test.go), then the rules the generated alerts meet: most alerts are decided late,
// after every generated rule has been tried. The baseline makes TargetDown P1 in prod, the
// critical HighLatency P2 and the rest P3; the candidate also makes TargetDown in staging P2
// instead of P3, and drops Watchdog. Escalation raises an opening by one level after a deploy.
func ruleFile(n int, candidate bool) string {
	var b strings.Builder
	b.WriteString("default: P3\nrules:\n")
	if candidate {
		b.WriteString("  - name: drop-watchdog\n    when: alertname == \"Watchdog\"\n    drop: true\n    description: the dead man's switch is not an incident\n")
	}
	for i := range n - 4 {
		fmt.Fprintf(&b, "  - name: rule-%d\n    severity: P%d\n    when: ", i, i%4+1)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "alertname == \"Alert%d\" && labels.severity in [\"critical\", \"page\"]\n", i)
		case 1:
			fmt.Fprintf(&b, "service == \"gen-svc-%d\" && environment in [\"prod\", \"production\"] && active_for > duration(\"5m\")\n", i)
		case 2:
			fmt.Fprintf(&b, "alertname matches \"^Alert%d(Slow|Down)$\" && has(\"team\")\n", i)
		case 3:
			fmt.Fprintf(&b, "labels.team == \"gen-team-%d\" && labels.env == \"prod\" && business_hours()\n", i)
		}
	}
	b.WriteString("  - name: target-down-prod\n    when: alertname == \"TargetDown\" && environment == \"prod\"\n    severity: P1\n")
	if candidate {
		b.WriteString("  - name: target-down-staging\n    when: alertname == \"TargetDown\" && environment == \"staging\"\n    severity: P2\n")
	}
	b.WriteString("  - name: critical\n    when: labels.severity == \"critical\"\n    severity: P2\n")
	b.WriteString("  - name: warning\n    when: labels.severity == \"warning\"\n    severity: P3\n")
	b.WriteString("escalations:\n  - name: recent-deploy\n    when: len(changes) > 0 && severity != \"P1\"\n    severity: raise(1)\n")
	return b.String()
}

func parseRules(t testing.TB, name, text string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Parse(name, []byte(text))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rs
}

var genStart = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// generate makes n alert records over a week, in a fixed mix: of every 20, TargetDown in prod,
// staging and dev, Watchdog, HighLatency (critical) and DiskSpaceLow (warning) in turn across
// five services; only HighLatency is critical, the rest are warnings.
func generate(n int, version string) []history.Record {
	names := []string{"TargetDown", "Watchdog", "HighLatency", "DiskSpaceLow"}
	envs := []string{"prod", "staging", "dev"}
	recs := make([]history.Record, n)
	for i := range recs {
		name := names[i%len(names)]
		env := envs[(i/len(names))%len(envs)]
		svc := fmt.Sprintf("svc-%d", i%5)
		sev := "warning"
		if name == "HighLatency" {
			sev = "critical"
		}
		labels := template.KV{"alertname": name, "env": env, "service": svc, "severity": sev, "team": "team-a",
			"instance": fmt.Sprintf("host-%d:9100", i%50), "job": "node"}
		at := genStart.Add(time.Duration(i) * 7 * 24 * time.Hour / time.Duration(n+1))
		a := triaged.Alert{Alert: template.Alert{
			Status: triaged.StatusFiring, Labels: labels,
			Annotations: template.KV{"summary": name + " on " + labels["instance"]},
			StartsAt:    at.Add(-10 * time.Minute), Fingerprint: fmt.Sprintf("%016x", i),
		}}
		recs[i] = history.Record{
			Kind: history.KindAlert, At: at, Alert: a, Service: triaged.Service{Name: svc, Environment: env},
			Group: fmt.Sprintf("{}:{alertname=%q, env=%q}#%d", name, env, i/20), RuleSetVersion: version,
		}
	}
	return recs
}

// sliceSource replays records as history.Read would.
func sliceSource(recs []history.Record) Source {
	return func(ctx context.Context, fn func(history.Record) error) (history.Stats, error) {
		var st history.Stats
		for _, r := range recs {
			if st.Records == 0 {
				st.First = r.At
			}
			st.Records++
			st.Last = r.At
			if err := fn(r); err != nil {
				return st, err
			}
		}
		return st, nil
	}
}
