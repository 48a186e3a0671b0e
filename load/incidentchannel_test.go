package load_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/load"
)

// TestIncidentChannelProblems: the incident_channel block's mistakes are placed at their key,
// file:line:column, all in one pass.
func TestIncidentChannelProblems(t *testing.T) {
	for _, tc := range []struct {
		name, block string
		want        []string
	}{
		{"values", `    incident_channel:
      min_severity: high
      name_template: "{{.Nope}}"
`, []string{
			`:11:21: sinks[1].incident_channel.min_severity: "high" is not a severity (P1, P2, P3 or P4)`,
			`:12:22: sinks[1].incident_channel.name_template: try on a sample report: template: name_template:1:2: executing "name_template" at <.Nope>: can't evaluate field Nope`,
		}},
		{"keys", `    incident_channel:
      archive: 1h
      archive_after: soon
`, []string{
			`:11:7: sinks[1].incident_channel.archive: unknown key (known keys: archive_after, min_severity, name_template)`,
			`:12:22: sinks[1].incident_channel.archive_after: "soon" is not a duration`,
		}},
		{"kind", "", []string{`:7:23: sinks[1].incident_channel: a file sink takes no incident_channel`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := "# a file sink, and a slack sink\nsinks:\n  - name: archive\n    type: file\n    path: r.jsonl\n" +
				"  - name: chat\n    type: slack\n    token_file: token\n    channel: \"#incidents\"\n" + tc.block
			if tc.name == "kind" {
				cfg = "sinks:\n  - name: chat\n    type: slack\n    token_file: token\n  - name: archive\n    type: file\n    incident_channel: {}\n    path: r.jsonl\n"
			}
			file := filepath.Join(dir, "triaged.yml")
			if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := load.File(file)
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), file+w) {
					t.Errorf("error lacks %q:\n%s", file+w, err)
				}
			}
		})
	}
}
