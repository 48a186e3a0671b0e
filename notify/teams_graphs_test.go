package notify

import (
	"testing"

	"github.com/triaged/triaged/internal/chattest"
)

// A Teams sink's own template gets the graphs in its Metrics section, or in a Graphs section of
// their own when it has none; the fake Teams accepts either card.
func TestTeamsTemplateGraphs(t *testing.T) {
	rep := measuredP1()
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"metrics heading", "## Summary\nx\n### Metrics\n- error ratio 12 %\n", "Metrics"},
		{"no metrics heading", "## Summary\nx\n", "Graphs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := withTeamsGraphs(teamsTemplateSections(tc.doc), rep, testExternalURL)
			var with []string
			for _, p := range parts {
				if len(p.images) > 0 {
					with = append(with, p.title)
				}
			}
			if len(with) != 1 || with[0] != tc.want {
				t.Fatalf("graphs in sections %q, want in %q only", with, tc.want)
			}
			data, err := teamsCard(rep, testExternalURL, parts)
			if err != nil {
				t.Fatal(err)
			}
			if err := chattest.CheckTeamsMessage(data); err != nil {
				t.Errorf("Teams refuses the card: %v", err)
			}
		})
	}
	if parts := withTeamsGraphs(teamsTemplateSections("## Summary\nx\n"), rep, ""); len(parts) != 1 {
		t.Errorf("without an external URL: %d sections, want the template's only", len(parts))
	}
}
