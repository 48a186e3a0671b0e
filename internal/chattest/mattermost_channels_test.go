package chattest

import (
	"net/http"
	"strings"
	"testing"
)

// TestMattermostChannelsRefuse: creating, finding, adding to and archiving a channel answer as
// Mattermost does: 400 for a taken or invalid name, 404 for what does not exist or is private
// to others, 403 for a permission the bot lacks.
func TestMattermostChannelsRefuse(t *testing.T) {
	mm := NewMattermost(t)
	mm.AddChannel("ops", "incidents")
	mm.AddPrivateChannel("ops", "secret")
	mm.AddUser(MMUser{ID: "ualice", Username: "alice", Email: "alice@example.com"})
	_, team := send(t, http.MethodGet, mm.URL+"/api/v4/teams/name/ops", mm.Token, nil)
	teamID := team[strings.Index(team, `"id":"`)+6 : strings.Index(team, `"id":"`)+32]
	create := func(name string) (int, string) {
		return send(t, http.MethodPost, mm.URL+"/api/v4/channels", mm.Token, map[string]string{
			"team_id": teamID, "name": name, "display_name": name, "purpose": "p", "type": "O"})
	}
	if code, body := create("incident-1"); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	ch, _ := mm.Channel("ops", "incident-1")
	for _, tc := range []struct {
		name       string
		code       int
		got        func() (int, string)
		wantInBody string
	}{
		{"taken", http.StatusBadRequest, func() (int, string) { return create("incident-1") }, "store.sql_channel.save_channel.exists.app_error"},
		{"invalid", http.StatusBadRequest, func() (int, string) { return create("-Bad") }, "model.channel.is_valid.2_or_more.app_error"},
		{"one character", http.StatusBadRequest, func() (int, string) { return create("x") }, "model.channel.is_valid.2_or_more.app_error"},
		{"65 characters", http.StatusBadRequest, func() (int, string) { return create(strings.Repeat("x", 65)) }, "model.channel.is_valid.2_or_more.app_error"},
		{"a direct message's", http.StatusBadRequest, func() (int, string) {
			return create(strings.Repeat("a", 26) + "__" + strings.Repeat("b", 26))
		}, "model.channel.is_valid.name.app_error"},
		{"a group message's", http.StatusBadRequest, func() (int, string) { return create(strings.Repeat("0123456789", 4)) }, "model.channel.is_valid.name.app_error"},
		{"two underscores", http.StatusCreated, func() (int, string) { return create("in__c") }, `"name":"in__c"`},
		{"two characters", http.StatusCreated, func() (int, string) { return create("ab") }, `"name":"ab"`},
		{"private, taken", http.StatusBadRequest, func() (int, string) { return create("secret") }, "store.sql_channel.save_channel.exists.app_error"},
		{"private, not shown", http.StatusNotFound, func() (int, string) {
			return send(t, http.MethodGet, mm.URL+"/api/v4/teams/"+teamID+"/channels/name/secret?include_deleted=true", mm.Token, nil)
		}, "app.channel.get_by_name.missing.app_error"},
		{"no user", http.StatusNotFound, func() (int, string) {
			return send(t, http.MethodGet, mm.URL+"/api/v4/users/username/zed", mm.Token, nil)
		}, "app.user.missing_account.const"},
		{"by email", http.StatusOK, func() (int, string) {
			return send(t, http.MethodGet, mm.URL+"/api/v4/users/email/alice@example.com", mm.Token, nil)
		}, `"id":"ualice"`},
		{"by name, archived included", http.StatusOK, func() (int, string) {
			return send(t, http.MethodGet, mm.URL+"/api/v4/teams/"+teamID+"/channels/name/incident-1?include_deleted=true", mm.Token, nil)
		}, `"purpose":"p"`},
	} {
		if code, body := tc.got(); code != tc.code || !strings.Contains(body, tc.wantInBody) {
			t.Errorf("%s: %d %s, want %d with %s", tc.name, code, body, tc.code, tc.wantInBody)
		}
	}
	// Restoring asks manage_team, not manage_public_channel_properties (api4 restoreChannel).
	mm.Deny(PermManageProperties)
	if code, body := send(t, http.MethodPost, mm.URL+"/api/v4/channels/"+ch.ID+"/restore", mm.Token, nil); code != http.StatusOK {
		t.Errorf("restore without manage_public_channel_properties: %d %s", code, body)
	}
	mm.Deny(PermManageMembers, PermDeleteChannel, PermCreateChannel, PermManageTeam)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/api/v4/channels/" + ch.ID + "/members"},
		{http.MethodDelete, "/api/v4/channels/" + ch.ID},
		{http.MethodPost, "/api/v4/channels/" + ch.ID + "/restore"},
	} {
		if code, body := send(t, tc.method, mm.URL+tc.path, mm.Token, map[string]string{"user_id": "ualice"}); code != http.StatusForbidden ||
			!strings.Contains(body, "api.context.permissions.app_error") {
			t.Errorf("%s %s without the permission: %d %s", tc.method, tc.path, code, body)
		}
	}
	if code, _ := create("incident-2"); code != http.StatusForbidden {
		t.Errorf("create without create_public_channel: %d", code)
	}
}
