package notify

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/chattest"
	"github.com/triaged/triaged/internal/golden"
)

// The report's graphs show in Mattermost as pictures on triaged's external URL, after the
// Metrics section, and their links are absolute; the fake refuses a picture Mattermost could not
// fetch.
func TestMattermostGraphs(t *testing.T) {
	mm := chattest.NewMattermost(t)
	mm.AddChannel("ops", "incidents")
	sink := mattermostSink(t, mm, "ops/incidents")
	if _, err := sink.Deliver(context.Background(), Delivery{Report: measuredP1()}); err != nil {
		t.Fatal(err)
	}
	posts := mm.Posts()
	if len(posts) != 2 {
		t.Fatalf("%d posts, want the root and the report", len(posts))
	}
	msg := posts[1].Message
	metrics := msg[strings.Index(msg, "### Metrics"):strings.Index(msg, "### Response Team")]
	golden.Check(t, filepath.Join("testdata", "mattermost_metrics_p1.md"), []byte(metrics))
	if n := strings.Count(metrics, "![Graph of "); n != 3 {
		t.Errorf("%d pictures in the Metrics section, want the 3 graphs", n)
	}
	if strings.Contains(msg, "](/api/") {
		t.Error("a link or picture leads to a path, which Mattermost resolves on itself")
	}
}

// Without triaged's external URL the graphs are neither linked nor shown.
func TestMattermostGraphsWithoutExternalURL(t *testing.T) {
	doc, err := mustRenderer(t).Markdown(measuredP1())
	if err != nil {
		t.Fatal(err)
	}
	got := mmGraphs(string(doc), measuredP1(), "")
	if strings.Contains(got, "[graph]") || !strings.Contains(got, "`▁▁▁▁▁▂▃▅▇██`\n") {
		t.Errorf("graphs left in, or the lines they ended broken:\n%s", got)
	}
}
