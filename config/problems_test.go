package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/triaged/triaged/config"
)

// Parse hands back a config with bad values, so the parts it names can be checked in the same
// pass; the problems added come out in file order, then the others in the order they came.
func TestParseKeepsTheConfigWithItsProblems(t *testing.T) {
	c, probs := config.Parse([]byte("triage:\n  workers: 0\nsinks:\n  - name: out\n    type: pager\n"), "t.yml")
	if c == nil || c.Sinks[0].Type != "pager" {
		t.Fatalf("Parse dropped a config that decoded: %+v", c)
	}
	probs.Add(errors.Join(errors.New("other.yml:1:1: first"), errors.New("other.yml:2:1: second")))
	probs.Add(fmt.Errorf("read %w and %w", errors.New("a"), errors.New("b")))
	probs.At("sinks[0].type", "unknown sink type %q", "pager")
	probs.At("enrichment.redact[0]", "absent key, placed at the file")
	want := strings.Join([]string{
		"t.yml:2:12: triage.workers: 0 is out of range 1..4096",
		`t.yml:5:11: sinks[0].type: unknown sink type "pager"`,
		"other.yml:1:1: first",
		"other.yml:2:1: second",
		"read a and b",
		"t.yml: enrichment.redact[0]: absent key, placed at the file",
	}, "\n")
	if got := probs.Err().Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := config.Load([]byte("triage:\n  workers: 0\n"), "t.yml"); err == nil {
		t.Error("Load accepted a config with a problem")
	}
}
