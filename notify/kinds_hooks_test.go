package notify

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/fielderr"
)

// TestPlanHookSinks: each chat and webhook type is checked for what it needs and refuses what it
// does not use, every problem at once, without reading its files.
func TestPlanHookSinks(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, tc := range []struct {
		cfg  SinkConfig
		want []string // "field: message"; none for a good config
	}{
		{SinkConfig{Type: "mattermost", URL: "https://chat.example.com", TokenFile: missing, Channel: "ops/incidents"}, nil},
		{SinkConfig{Type: "mattermost", URL: "https://chat.example.com", TokenFile: missing, Channel: strings.Repeat("a", 26), Template: "x.tmpl"}, nil},
		{SinkConfig{Type: "mattermost"}, []string{"url: a mattermost sink needs url", "token_file: a mattermost sink needs token_file"}},
		{SinkConfig{Type: "mattermost", URL: "chat.example.com", TokenFile: missing, Channel: "incidents", SecretFile: "s"}, []string{
			`url: "chat.example.com" is not an http or https URL with a host`,
			"secret_file: a mattermost sink takes no secret_file",
			`channel: "incidents" is neither a channel id (26 letters and digits) nor team/channel-name`}},
		{SinkConfig{Type: "mattermost", URL: "https://bot:pw@chat.example.com", TokenFile: missing}, []string{
			`url: "https://bot:xxxxx@chat.example.com" holds credentials; put them in a file (token_file, secret_file)`}},
		{SinkConfig{Type: "mattermost_webhook", URLFile: missing, Channel: "incidents"}, nil},
		{SinkConfig{Type: "mattermost_webhook", URL: "https://chat.example.com/hooks/x"}, []string{
			"url: a mattermost_webhook sink takes no url", "url_file: a mattermost_webhook sink needs url_file"}},
		{SinkConfig{Type: "teams", URLFile: missing}, nil},
		{SinkConfig{Type: "teams", URLFile: missing, Channel: "General", Path: "p", Template: "t"}, []string{
			"path: a teams sink takes no path", "channel: a teams sink takes no channel"}},
		{SinkConfig{Type: "webhook", URL: "http://hooks.example.com/triaged", SecretFile: missing}, nil},
		{SinkConfig{Type: "webhook", URL: "ftp://hooks.example.com", TokenFile: "t"}, []string{
			`url: "ftp://hooks.example.com" is not an http or https URL with a host`,
			"token_file: a webhook sink takes no token_file", "secret_file: a webhook sink needs secret_file"}},
	} {
		tc.cfg.Name = "s"
		plan, err := PlanSink(tc.cfg)
		var got []string
		for _, fe := range fielderr.List(err) {
			got = append(got, fe.Error())
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") || (plan == nil) != (len(tc.want) > 0) {
			t.Errorf("PlanSink(%+v):\n got %q\nwant %q", tc.cfg, got, tc.want)
		}
	}
}

// TestOpenHookSinksNamesTheFile: a secret file that is missing or empty fails the opening,
// naming the setting and the file, never a secret.
func TestOpenHookSinksNamesTheFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	empty := secretFile(t, "  ")
	for _, tc := range []struct {
		cfg  SinkConfig
		want string
	}{
		{SinkConfig{Type: "mattermost", URL: "https://chat.example.com", TokenFile: missing}, "token_file: open " + missing},
		{SinkConfig{Type: "mattermost_webhook", URLFile: empty}, "url_file: " + empty + " is empty"},
		{SinkConfig{Type: "teams", URLFile: secretFile(t, "not a url at all https-secret")}, "/secret: not an http or https URL with a host"},
		{SinkConfig{Type: "webhook", URL: "https://h.example.com", SecretFile: missing}, "secret_file: open " + missing},
	} {
		tc.cfg.Name = "s"
		plan, err := PlanSink(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = plan.Open(SinkEnv{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "https-secret") {
			t.Errorf("Open(%s) = %v; want it to say %q", tc.cfg.Type, err, tc.want)
		}
		if tc.cfg.TokenFile == missing && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%s): %v does not wrap fs.ErrNotExist", tc.cfg.Type, err)
		}
	}
}
