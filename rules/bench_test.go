package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
)

// generatedRules returns a rule file of n rules in four shapes that rule authors write, where
// only rule n-2 matches the benchmark alert: every rule before it is evaluated and fails.
func generatedRules(n int) string {
	var b strings.Builder
	b.WriteString("default: P3\nrules:\n")
	for i := range n - 2 {
		fmt.Fprintf(&b, "  - name: rule-%d\n    severity: P%d\n    when: ", i, i%4+1)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "alertname == \"Alert%d\" && labels.severity in [\"critical\", \"page\"]\n", i)
		case 1:
			fmt.Fprintf(&b, "service == \"svc-%d\" && environment in [\"prod\", \"production\"] && active_for > duration(\"5m\")\n", i)
		case 2:
			fmt.Fprintf(&b, "alertname matches \"^Alert%d(Slow|Down)$\" && has(\"team\")\n", i)
		case 3:
			fmt.Fprintf(&b, "labels.team == \"team-%d\" && labels.env == \"prod\" && business_hours()\n", i)
		}
	}
	b.WriteString("  - name: target-down-prod\n    when: alertname == \"TargetDown\" && environment in [\"prod\", \"production\"]\n    severity: P1\n")
	b.WriteString("  - name: warning\n    when: labels.severity == \"warning\"\n    severity: P3\n")
	return b.String()
}

// BenchmarkClassify classifies one alert against 20 and 200 rules whose first match is the
// second to last rule. README.md reports the figures:
//
//	go test ./rules -run '^$' -bench Classify -benchmem
func BenchmarkClassify(b *testing.B) {
	a := alert("TargetDown", "env", "prod", "severity", "critical", "team", "sre", "service", "api")
	svc := triaged.LabelledService(a)
	for _, n := range []int{20, 200} {
		rs := mustParse(b, generatedRules(n))
		if c := rs.Classify(a, svc, evalTime); c.Rule != "target-down-prod" {
			b.Fatalf("decided by %q", c.Rule)
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rs.Classify(a, svc, evalTime)
			}
		})
		// The reference path, for comparison: one expr run per rule.
		slow := withoutFastPath(rs)
		b.Run(fmt.Sprintf("rules=%d/rule-by-rule", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				slow.Classify(a, svc, evalTime)
			}
		})
	}
}

// BenchmarkEngineClassify adds what the daemon adds: the atomic load and the match counter.
func BenchmarkEngineClassify(b *testing.B) {
	path := writeFile(b, b.TempDir(), "rules.yml", generatedRules(200))
	e, err := NewEngine([]string{path}, EngineOptions{Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	a := alert("TargetDown", "env", "prod", "severity", "critical", "team", "sre", "service", "api")
	svc := triaged.LabelledService(a)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.Classify(a, svc, evalTime)
		}
	})
}

func BenchmarkDefaultRules(b *testing.B) {
	rs := Default()
	a := alert("DiskSpaceLow", "env", "prod", "severity", "warning", "service", "storage")
	svc := triaged.LabelledService(a)
	b.ReportAllocs()
	for b.Loop() {
		rs.Classify(a, svc, evalTime)
	}
}

func BenchmarkLoad200(b *testing.B) {
	data := []byte(generatedRules(200))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("rules.yml", data); err != nil {
			b.Fatal(err)
		}
	}
}
