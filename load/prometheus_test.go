package load_test

import (
	"os"
	"strings"
	"testing"

	"github.com/triaged/triaged/load"
)

// The README's example of the metrics evidence config loads, its queries compiled.
func TestREADMEPrometheusExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "### Metrics evidence (`prometheus:`)")
	if !ok {
		t.Fatal("README.md has no Metrics evidence section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, _ := strings.Cut(rest, "```")
	parts, err := load.Bytes([]byte(block), "triaged.yml")
	if err != nil {
		t.Fatalf("the README's example does not load: %v", err)
	}
	svc := parts.Catalog.Service("checkout")
	if svc == nil || len(svc.Queries()) != 4 || svc.UserImpact == nil || svc.Prometheus == nil || !parts.Config.Prometheus.Enabled() {
		t.Fatalf("the example's checkout service: %+v", svc)
	}
}
