package slacktest

import (
	"testing"
)

// TestChannelMethodsRefuseAsSlackDoes: channel creation, invitations, pins and archiving answer
// Slack's codes, and a revoked scope answers missing_scope with needed and provided.
func TestChannelMethodsRefuseAsSlackDoes(t *testing.T) {
	s := New(t, token, "incidents")
	s.AddUser(User{ID: "UA", Name: "alice"})
	const form = "application/x-www-form-urlencoded"
	auth := "Bearer " + token
	_, created := call(t, s, "conversations.create", auth, form, "name=incident-1")
	ch, _ := created["channel"].(map[string]any)
	if created["ok"] != true || ch["creator"] != BotUserID {
		t.Fatalf("create: %v", created)
	}
	id := ch["id"].(string)
	for _, tc := range []struct {
		name, method, body, want string
	}{
		{"taken", "conversations.create", "name=incidents", "name_taken"},
		{"upper case", "conversations.create", "name=Incident", "invalid_name_specials"},
		{"too long", "conversations.create", "name=" + longName(81), "invalid_name_maxlength"},
		{"no name", "conversations.create", "name=", "invalid_name_required"},
		{"unknown user", "conversations.invite", "channel=" + id + "&users=UNOPE", "user_not_found"},
		{"self", "conversations.invite", "channel=" + id + "&users=" + BotUserID, "cant_invite_self"},
		{"pin nothing", "pins.add", "channel=" + id + "&timestamp=1.000001", "message_not_found"},
		{"unarchive with a bot token", "conversations.unarchive", "channel=" + id, "not_allowed_token_type"},
		{"json body", "conversations.archive", `{"channel":"` + id + `"}`, "invalid_form_data"},
		{"unknown email", "users.lookupByEmail", "email=zed@example.com", "users_not_found"},
	} {
		ct := form
		if tc.name == "json body" {
			ct = "application/json"
		}
		if _, got := call(t, s, tc.method, auth, ct, tc.body); got["ok"] != false || got["error"] != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
	if _, got := call(t, s, "conversations.invite", auth, form, "channel="+id+"&users=UA"); got["ok"] != true {
		t.Errorf("invite: %v", got)
	}
	if _, got := call(t, s, "conversations.invite", auth, form, "channel="+id+"&users=UA"); got["error"] != "already_in_channel" {
		t.Errorf("invite twice: %v", got)
	}
	if _, got := call(t, s, "conversations.archive", auth, form, "channel="+id); got["ok"] != true {
		t.Errorf("archive: %v", got)
	}
	if _, got := call(t, s, "conversations.archive", auth, form, "channel="+id); got["error"] != "already_archived" {
		t.Errorf("archive twice: %v", got)
	}
	if _, got := call(t, s, "conversations.create", auth, form, "name=incident-1"); got["error"] != "name_taken" {
		t.Errorf("an archived channel's name: %v", got)
	}
	s.RevokeScope("channels:manage")
	_, got := call(t, s, "conversations.create", auth, form, "name=incident-2")
	if got["error"] != "missing_scope" || got["needed"] != "channels:manage" || got["provided"] == "" {
		t.Errorf("without channels:manage: %v", got)
	}
}

func longName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}
