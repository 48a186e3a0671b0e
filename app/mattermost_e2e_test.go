package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/chattest"
)

// TestMattermostEndToEnd: through the whole daemon, a Mattermost bot sink opens each incident
// with a root post and the full report as a reply (root_id), in the catalog's channel of the
// service or else the sink's, and on the resolution replies in the thread and patches the root
// to show it resolved. Each root is posted once.
func TestMattermostEndToEnd(t *testing.T) {
	mm := chattest.NewMattermost(t)
	incidents := mm.AddChannel("ops", "incidents")
	checkout := mm.AddChannel("ops", "inc-checkout")
	cfg := configFile(t, reportAtOnce+`triage:
  retry_backoff: [50ms]
services:
  - name: checkout
    channel: "#inc-checkout"
sinks:
  - name: stdout
    type: stdout
  - name: mattermost
    type: mattermost
    url: `+mm.URL+`
    token_file: mm-token
    channel: ops/incidents
`)
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "mm-token"), []byte(mm.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, app.Options{ConfigFile: cfg, ExternalURL: "https://triaged.example.com"})
	firing := webhook("CheckoutDown", "2026-11-26T15:08:31Z")
	r.post(t, firing)
	r.postFile(t, "firing-3-alerts.json") // payments-api: not in the catalog
	r.waitReports(t, 2)
	r.post(t, []byte(strings.ReplaceAll(string(firing), `"status":"firing"`, `"status":"resolved"`)))
	r.postFile(t, "resolved-3-alerts.json")
	r.waitReports(t, 4)

	reps := fullReports(t, r)
	if len(reps) != 4 {
		t.Fatalf("%d reports on the stream, want 4", len(reps))
	}
	posts := mm.Posts()
	if len(posts) != 6 {
		t.Fatalf("%d posts, want a root and two replies for each of the two incidents: %+v", len(posts), posts)
	}
	for _, tc := range []struct {
		alert, channel string
	}{{"CheckoutDown", checkout}, {"TargetDown", incidents}} {
		var root *chattest.Post
		var replies []chattest.Post
		for _, p := range posts {
			if p.RootID == "" && strings.Contains(p.Message, tc.alert) {
				if root != nil {
					t.Errorf("%s: two root posts", tc.alert)
				}
				root = &p
			}
		}
		if root == nil {
			t.Errorf("%s: no root post", tc.alert)
			continue
		}
		for _, p := range posts {
			if p.RootID == root.ID {
				replies = append(replies, p)
			}
		}
		if root.ChannelID != tc.channel {
			t.Errorf("%s: root in channel %s, want %s", tc.alert, root.ChannelID, tc.channel)
		}
		if len(replies) != 2 || replies[0].ChannelID != tc.channel || !strings.Contains(replies[0].Message, "INVESTIGATING") ||
			!strings.Contains(replies[1].Message, "RESOLVED") {
			t.Errorf("%s: want the opening then the resolution in the root's thread, got %+v", tc.alert, replies)
		}
		if !strings.Contains(root.Message, "RESOLVED") {
			t.Errorf("%s: the root was not patched to show the resolution:\n%s", tc.alert, root.Message)
		}
		patched := 0
		for _, p := range mm.Patches() {
			if p.PostID == root.ID {
				patched++
			}
		}
		if patched != 1 {
			t.Errorf("%s: root patched %d times, want once (on the resolution)", tc.alert, patched)
		}
	}
}
