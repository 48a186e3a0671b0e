package config_test

import (
	"path/filepath"
	"testing"

	"github.com/triaged/triaged/config"
)

// TestSinkFilesRelativeToConfig: a sink's secret and template files, like its path, are
// relative to the config file, not to where the daemon was started.
func TestSinkFilesRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	c, problems := config.Parse([]byte(`sinks:
  - name: chat
    type: slack
    token_file: secrets/slack.token
    template: slack.tmpl
  - name: hook
    type: slack_webhook
    url_file: /abs/url
`), filepath.Join(dir, "triaged.yml"))
	if problems != nil && problems.Err() != nil {
		t.Fatal(problems.Err())
	}
	if got, want := c.Sinks[0].TokenFile, filepath.Join(dir, "secrets/slack.token"); got != want {
		t.Errorf("token_file = %q, want %q", got, want)
	}
	if got, want := c.Sinks[0].Template, filepath.Join(dir, "slack.tmpl"); got != want {
		t.Errorf("template = %q, want %q", got, want)
	}
	if got := c.Sinks[1].URLFile; got != "/abs/url" {
		t.Errorf("url_file = %q, want it kept", got)
	}
}
