package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/triaged/triaged/config"
)

// TestSinkFilesResolved: a sink's secret and template files, like its path, are relative to the
// config file, not to wherever the daemon was started.
func TestSinkFilesResolved(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "triaged.yml")
	yml := `sinks:
  - name: mm
    type: mattermost
    url: https://chat.example.com
    token_file: secrets/mm-token
    channel: ops/incidents
    template: mm.tmpl
  - name: teams
    type: teams
    url_file: secrets/teams-url
  - name: hook
    type: webhook
    url: https://hooks.example.com/triaged
    secret_file: /run/secrets/hmac
`
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		c.Sinks[0].TokenFile:  filepath.Join(dir, "secrets", "mm-token"),
		c.Sinks[0].Template:   filepath.Join(dir, "mm.tmpl"),
		c.Sinks[1].URLFile:    filepath.Join(dir, "secrets", "teams-url"),
		c.Sinks[2].SecretFile: "/run/secrets/hmac",
	} {
		if got != want {
			t.Errorf("sink file %q, want %q", got, want)
		}
	}
}
