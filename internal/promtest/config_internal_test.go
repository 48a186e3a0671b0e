package promtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/golden"
)

// The prometheus.yml the harness writes, with the temporary directory replaced by DIR.
func TestWriteConfig(t *testing.T) {
	dir := t.TempDir()
	targets, err := scrapeURLs([]string{"http://127.0.0.1:1234/metrics", "https://127.0.0.1:5678", "http://[::1]:9095/custom/metrics?x=1"})
	if err != nil {
		t.Fatal(err)
	}
	file, err := writeConfig(dir, targets, Options{
		Rules:        "groups: []\n",
		Alertmanager: "http://127.0.0.1:9093/am",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/prometheus.yml", []byte(strings.ReplaceAll(string(b), dir, "DIR")))
	if rules, err := os.ReadFile(filepath.Join(dir, "rules.yml")); err != nil || string(rules) != "groups: []\n" {
		t.Errorf("rules.yml %q, %v; want the Options' rules", rules, err)
	}
}

func TestScrapeURLsRefuseWhatIsNoURL(t *testing.T) {
	for _, raw := range []string{"", "127.0.0.1:9090", "localhost:9090/metrics", "ftp://h/metrics", "http://"} {
		if _, err := scrapeURLs([]string{raw}); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Errorf("target %q: error %v, want not an http(s) URL", raw, err)
		}
	}
	if _, err := writeConfig(t.TempDir(), nil, Options{Alertmanager: "127.0.0.1:9093"}); err == nil {
		t.Error("alertmanager 127.0.0.1:9093 (no scheme) accepted")
	}
}
