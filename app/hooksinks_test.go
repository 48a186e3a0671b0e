package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/chattest"
)

// TestChatAndWebhookSinks: a report reaches a Mattermost channel (root and reply in its thread),
// a Teams workflow and a signed webhook, configured as the README shows, with their secrets in
// files next to the config.
func TestChatAndWebhookSinks(t *testing.T) {
	mm := chattest.NewMattermost(t)
	mm.AddChannel("ops", "incidents")
	tm := chattest.NewTeams(t)
	var mu sync.Mutex
	var signed []string // report ids whose signature verified
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte("hmac-key"))
		mac.Write([]byte(r.Header.Get("X-Triaged-Timestamp") + "."))
		mac.Write(body)
		if !hmac.Equal([]byte(r.Header.Get("X-Triaged-Signature")), []byte("v1="+hex.EncodeToString(mac.Sum(nil)))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var rep struct{ ID string }
		_ = json.Unmarshal(body, &rep)
		mu.Lock()
		signed = append(signed, rep.ID)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	cfg := configFile(t, reportAtOnce+`sinks:
  - name: stdout
    type: stdout
  - name: mattermost
    type: mattermost
    url: `+mm.URL+`
    token_file: secrets/mm-token
    channel: ops/incidents
  - name: teams
    type: teams
    url_file: secrets/teams-url
  - name: hook
    type: webhook
    url: `+hook.URL+`
    secret_file: secrets/hmac
`)
	dir := filepath.Join(filepath.Dir(cfg), "secrets")
	for name, content := range map[string]string{"mm-token": mm.Token, "teams-url": tm.WebhookURL(), "hmac": "hmac-key"} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, app.Options{ConfigFile: cfg, ExternalURL: "https://triaged.example.com"})
	r.postFile(t, "firing-3-alerts.json")
	r.waitReports(t, 1)

	posts := mm.Posts()
	if len(posts) != 2 || posts[1].RootID != posts[0].ID ||
		!strings.Contains(posts[0].Message, "[Full report](https://triaged.example.com/api/v1/incidents/") {
		t.Errorf("mattermost posts: %+v", posts)
	}
	if cards := tm.Cards(); len(cards) != 1 {
		t.Errorf("teams got %d cards, want 1", len(cards))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(signed) != 1 || signed[0] == "" || !strings.Contains(posts[1].Message, signed[0]) {
		t.Errorf("webhook got %q; want the report, signed", signed)
	}
}
