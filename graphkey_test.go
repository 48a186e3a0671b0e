package triaged_test

import (
	"strings"
	"testing"

	"github.com/triaged/triaged"
)

func TestGraphKey(t *testing.T) {
	for _, tt := range []struct {
		id, name, want, err string
	}{
		{"20261126-targetdown-3f9a1c2b7e", "error_ratio", "20261126-targetdown-3f9a1c2b7e.error_ratio", ""},
		{"20261126-x-00", triaged.AlertExpressionMetric, "20261126-x-00.alert", ""},
		{"a", "_p99_2", "a._p99_2", ""},
		{"", "x", "", "incident id \"\": want 1 to 128"},
		{strings.Repeat("a", 129), "x", "", "want 1 to 128"},
		{"a.b", "x", "", "'.' is not allowed"},
		{"a*", "x", "", "'*' is not allowed"},
		{"a>", "x", "", "'>' is not allowed"},
		{"a b", "x", "", "' ' is not allowed"},
		{"a", "", "", "graph name \"\": want 1 to 128"},
		{"a", "Error", "", "'E' is not allowed at 0"},
		{"a", "9lives", "", "'9' is not allowed at 0"},
		{"a", "p99.x", "", "'.' is not allowed at 3"},
		{"a", "req-rate", "", "'-' is not allowed at 3"},
		{"a", strings.Repeat("x", 129), "", "want 1 to 128"},
	} {
		got, err := triaged.GraphKey(tt.id, tt.name)
		if tt.err == "" && (err != nil || got != tt.want) || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("GraphKey(%q, %q) = %q, %v; want %q, error containing %q", tt.id, tt.name, got, err, tt.want, tt.err)
		}
	}
}
