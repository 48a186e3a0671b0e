package slacktest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const token = "xoxb-test"

func call(t *testing.T, s *Server, method, auth, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.APIURL()+method, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func image(u, alt string) string {
	return `{"type":"image","image_url":"` + u + `","alt_text":"` + alt + `","title":{"type":"plain_text","text":"graph"}}`
}

func section(n int) string {
	return `{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("x", n) + `"}}`
}

// TestServerRefusesWhatSlackRefuses: the checks the sinks' tests rely on answer as Slack does.
func TestServerRefusesWhatSlackRefuses(t *testing.T) {
	s := New(t, token, "incidents")
	const js = "application/json; charset=utf-8"
	_, ok := call(t, s, "chat.postMessage", "Bearer "+token, js, `{"channel":"incidents","text":"root"}`)
	if ok["ok"] != true {
		t.Fatalf("a valid post is refused: %v", ok)
	}
	root := ok["ts"].(string)
	blocks50 := strings.TrimSuffix(strings.Repeat(section(10)+",", 51), ",")
	for _, tc := range []struct {
		name, method, auth, ct, body, want string
	}{
		{"no token", "chat.postMessage", "", js, `{"channel":"incidents","text":"x"}`, "not_authed"},
		{"wrong token", "chat.postMessage", "Bearer xoxb-other", js, `{"channel":"incidents","text":"x"}`, "invalid_auth"},
		{"form body", "chat.postMessage", "Bearer " + token, "application/x-www-form-urlencoded", "channel=incidents&text=x", "invalid_arguments"},
		{"no channel", "chat.postMessage", "Bearer " + token, js, `{"text":"x"}`, "channel_not_found"},
		{"unknown channel", "chat.postMessage", "Bearer " + token, js, `{"channel":"nope","text":"x"}`, "channel_not_found"},
		{"no text", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents"}`, "no_text"},
		{"51 blocks", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","blocks":[` + blocks50 + `]}`, "invalid_blocks"},
		{"section of 3001", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","blocks":[` + section(3001) + `]}`, "invalid_blocks"},
		{"image without alt_text", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","blocks":[` + image("https://triaged.example/g.png", "") + `]}`, "invalid_blocks"},
		{"image without image_url", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","blocks":[` + image("", "graph") + `]}`, "invalid_blocks"},
		{"image of a relative path", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","blocks":[` + image("/api/v1/incidents/x/graphs/alert.png", "graph") + `]}`, "invalid_blocks"},
		{"image_url of 3001", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","blocks":[` + image("https://t.example/"+strings.Repeat("g", 3001-18), "graph") + `]}`, "invalid_blocks"},
		{"alt_text of 2001", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","blocks":[` + image("https://t.example/g.png", strings.Repeat("a", 2001)) + `]}`, "invalid_blocks"},
		{"image title in mrkdwn", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","blocks":[{"type":"image","image_url":"https://t.example/g.png","alt_text":"g","title":{"type":"mrkdwn","text":"*g*"}}]}`, "invalid_blocks"},
		{"message of 40001", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"` + strings.Repeat("x", 40001) + `"}`, "msg_too_long"},
		{"unknown thread", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","thread_ts":"1.000001"}`, "thread_not_found"},
		{"bad metadata", "chat.postMessage", "Bearer " + token, js, `{"channel":"incidents","text":"x","metadata":{"event_type":"a b","event_payload":{}}}`, "invalid_metadata_format"},
		{"update by name", "chat.update", "Bearer " + token, js, `{"channel":"incidents","ts":"` + root + `","text":"x"}`, "channel_not_found"},
		{"update unknown ts", "chat.update", "Bearer " + token, js, `{"channel":"C0000001","ts":"1.000001","text":"x"}`, "message_not_found"},
		{"history as JSON", "conversations.history", "Bearer " + token, js, `{"channel":"C0000001"}`, "invalid_form_data"},
	} {
		_, got := call(t, s, tc.method, tc.auth, tc.ct, tc.body)
		if got["ok"] != false || got["error"] != tc.want {
			t.Errorf("%s: answer %v, want error %s", tc.name, got, tc.want)
		}
	}
	if _, ok := call(t, s, "chat.postMessage", "Bearer "+token, js, `{"channel":"incidents","text":"x","blocks":[`+image("https://t.example/"+strings.Repeat("g", 3000-18), strings.Repeat("a", 2000))+`]}`); ok["ok"] != true {
		t.Errorf("an image block at Slack's limits is refused: %v", ok)
	}
	if n := len(s.Accepted()); n != 2 {
		t.Errorf("%d calls recorded, want only the two valid ones", n)
	}

	s.FailNext("chat.postMessage", Failure{Status: 429, RetryAfter: 3})
	req, _ := http.NewRequest(http.MethodPost, s.APIURL()+"chat.postMessage", strings.NewReader(`{"channel":"incidents","text":"x"}`))
	req.Header.Set("Content-Type", js)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("injected 429: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
}
