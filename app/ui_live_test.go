package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/triaged/triaged/app"
)

// TestLiveClientsLeaveConnectionsForWebhooks: each browser following the live updates holds a
// connection, so at most half of --web.max-connections may; ui.max_live_clients above that is
// lowered, and a webhook still gets its connection with every stream taken.
func TestLiveClientsLeaveConnectionsForWebhooks(t *testing.T) {
	r := start(t, app.Options{MaxConnections: 4, ConfigFile: configFile(t, "ui:\n  max_live_clients: 64\n")})
	for i := range 3 {
		resp, err := http.Get(r.url + "/ui/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if i < 2 {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("stream %d: %d, want 200", i+1, resp.StatusCode)
			}
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the limit (ui.max_live_clients) is 2") {
			t.Errorf("stream 3: %d %s, want 503 naming the limit of 2", resp.StatusCode, body)
		}
	}
	r.postFile(t, "firing-3-alerts.json") // fails the test unless answered 200
}
