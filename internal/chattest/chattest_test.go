package chattest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func send(t *testing.T, method, url, token string, body any) (int, string) {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case []byte:
		data = b
	default:
		data, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestMattermostRefuses: the fake refuses what Mattermost refuses, so a sink that sends it fails
// its tests.
func TestMattermostRefuses(t *testing.T) {
	mm := NewMattermost(t)
	ch := mm.AddChannel("ops", "incidents")
	other := mm.AddChannel("ops", "other")
	posts := mm.URL + "/api/v4/posts"
	code, body := send(t, "POST", posts, mm.Token, map[string]any{"channel_id": ch, "message": "root"})
	var root Post
	_ = json.Unmarshal([]byte(body), &root)
	if code != http.StatusCreated || root.ID == "" {
		t.Fatalf("a good post: %d %s", code, body)
	}
	_, body = send(t, "POST", posts, mm.Token, map[string]any{"channel_id": ch, "message": "reply", "root_id": root.ID})
	var reply Post
	_ = json.Unmarshal([]byte(body), &reply)
	for _, tc := range []struct {
		name, method, url, token string
		body                     any
		code                     int
	}{
		{"no token", "POST", posts, "", map[string]any{"channel_id": ch, "message": "x"}, 401},
		{"wrong token", "POST", posts, "nope", map[string]any{"channel_id": ch, "message": "x"}, 401},
		{"unknown channel", "POST", posts, mm.Token, map[string]any{"channel_id": strings.Repeat("z", 26), "message": "x"}, 403},
		{"no message", "POST", posts, mm.Token, map[string]any{"channel_id": ch}, 400},
		{"too long", "POST", posts, mm.Token, map[string]any{"channel_id": ch, "message": strings.Repeat("é", MattermostMaxRunes+1)}, 400},
		{"picture of a path", "POST", posts, mm.Token, map[string]any{"channel_id": ch, "message": "![graph](/api/v1/incidents/x/graphs/alert.png)"}, 400},
		{"picture of another scheme", "POST", posts, mm.Token, map[string]any{"channel_id": ch, "message": "text ![a \\] b](javascript:alert(1))"}, 400},
		{"unknown root", "POST", posts, mm.Token, map[string]any{"channel_id": ch, "message": "x", "root_id": strings.Repeat("p", 26)}, 400},
		{"root in another channel", "POST", posts, mm.Token, map[string]any{"channel_id": other, "message": "x", "root_id": root.ID}, 400},
		{"root is a reply", "POST", posts, mm.Token, map[string]any{"channel_id": ch, "message": "x", "root_id": reply.ID}, 400},
		{"patch unknown post", "PUT", posts + "/" + strings.Repeat("p", 26) + "/patch", mm.Token, map[string]any{"message": "x"}, 404},
		{"patch too long", "PUT", posts + "/" + root.ID + "/patch", mm.Token, map[string]any{"message": strings.Repeat("a", MattermostMaxRunes+1)}, 400},
		{"page too large", "GET", mm.URL + "/api/v4/channels/" + ch + "/posts?per_page=201", mm.Token, nil, 400},
		{"unknown team channel", "GET", mm.URL + "/api/v4/teams/name/ops/channels/name/nowhere", mm.Token, nil, 404},
		{"wrong hook key", "POST", mm.URL + "/hooks/guess", "", map[string]any{"text": "x"}, 400},
		{"hook without text", "POST", mm.HookURL(), "", map[string]any{"channel": "incidents"}, 400},
		{"hook to unknown channel", "POST", mm.HookURL(), "", map[string]any{"text": "x", "channel": "nowhere"}, 403},
	} {
		if code, body := send(t, tc.method, tc.url, tc.token, tc.body); code != tc.code {
			t.Errorf("%s: %d %s; want %d", tc.name, code, body, tc.code)
		}
	}
	if n := len(mm.Posts()); n != 2 || len(mm.Patches()) != 0 || len(mm.Hooks()) != 0 {
		t.Errorf("refused requests were recorded: %d posts, %d patches, %d hook messages", n, len(mm.Patches()), len(mm.Hooks()))
	}
	mm.FailOn("POST", "/api/v4/posts", Reply{Status: 429, RetryAfter: "3", Skip: 1})
	codes := []int{}
	for range 3 {
		code, _ := send(t, "POST", posts, mm.Token, map[string]any{"channel_id": ch, "message": "x"})
		codes = append(codes, code)
	}
	if codes[0] != 201 || codes[1] != 429 || codes[2] != 201 {
		t.Errorf("with a 429 after one request: %v", codes)
	}
}

func TestTeamsRefuses(t *testing.T) {
	tm := NewTeams(t)
	card := func(content map[string]any) map[string]any {
		return map[string]any{"type": "message", "attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive", "content": content}}}
	}
	good := map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{map[string]any{"type": "TextBlock", "text": "hi"}}}
	if code, body := send(t, "POST", tm.WebhookURL(), "", card(good)); code != http.StatusAccepted {
		t.Fatalf("a good card: %d %s", code, body)
	}
	for _, tc := range []struct {
		name string
		body any
		code int
	}{
		{"not a message", map[string]any{"type": "card"}, 400},
		{"no version", card(map[string]any{"type": "AdaptiveCard", "body": good["body"]}), 400},
		{"empty body", card(map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{}}), 400},
		{"empty TextBlock", card(map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{map[string]any{"type": "TextBlock"}}}), 400},
		{"unknown element", card(map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{map[string]any{"type": "Marquee"}}}), 400},
		{"javascript button", card(map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": good["body"],
			"actions": []any{map[string]any{"type": "Action.OpenUrl", "title": "x", "url": "javascript:alert(1)"}}}), 400},
		{"image without url", card(map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{map[string]any{"type": "Image", "altText": "graph"}}}), 400},
		{"image of a path", card(map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{map[string]any{"type": "Image", "url": "/api/v1/incidents/x/graphs/alert.png"}}}), 400},
		{"image with empty altText", card(map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{map[string]any{"type": "Image", "url": "https://t.example/g.png", "altText": ""}}}), 400},
		{"too large", card(map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{
			map[string]any{"type": "TextBlock", "text": strings.Repeat("x", TeamsMaxBytes)}}}), 413},
	} {
		if code, body := send(t, "POST", tm.WebhookURL(), "", tc.body); code != tc.code {
			t.Errorf("%s: %d %s; want %d", tc.name, code, body, tc.code)
		}
	}
	if n := len(tm.Cards()); n != 1 {
		t.Errorf("%d cards recorded; want the good one only", n)
	}
}
