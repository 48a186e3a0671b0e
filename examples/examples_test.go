// Package examples_test keeps the example configurations honest: each is checked by the tool
// that will read it (triaged's own loader, amtool, promtool), and docker-compose.yml's wiring is
// checked against them.
package examples_test

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/load"
	"github.com/triaged/triaged/notify"
)

func TestTriagedConfigLoads(t *testing.T) {
	p, err := load.File("triaged.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sinks) != 2 {
		t.Errorf("example config has %d sinks, want stdout and archive", len(p.Sinks))
	}
}

// tool finds a Prometheus tool; CI installs them, a developer machine may not have them.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed; .ci/run installs it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func TestPrometheusToolsAcceptTheExamples(t *testing.T) {
	tests := []struct {
		tool string
		args []string
	}{
		{"amtool", []string{"check-config", "alertmanager.yml"}},
		{"promtool", []string{"check", "config", "prometheus.yml"}},
		{"promtool", []string{"check", "rules", "alert.rules.yml"}},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := exec.Command(tool(t, tt.tool), tt.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestComposeWiring(t *testing.T) {
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"nats", "triaged", "alertmanager", "prometheus"} {
		if _, ok := compose.Services[s]; !ok {
			t.Errorf("docker-compose.yml has no %s service", s)
		}
	}
	for name, s := range compose.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	// Alertmanager must post to where triaged listens.
	var am struct {
		Receivers []struct {
			WebhookConfigs []struct {
				URL        string `yaml:"url"`
				HTTPConfig struct {
					Authorization struct {
						Type            string `yaml:"type"`
						CredentialsFile string `yaml:"credentials_file"`
					} `yaml:"authorization"`
				} `yaml:"http_config"`
			} `yaml:"webhook_configs"`
		} `yaml:"receivers"`
	}
	amData, _ := os.ReadFile("alertmanager.yml")
	if err := yaml.Unmarshal(amData, &am); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(am.Receivers[0].WebhookConfigs[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	listen := ""
	for _, arg := range compose.Services["triaged"].Command {
		if v, ok := strings.CutPrefix(arg, "--web.listen-address="); ok {
			listen = v
		}
	}
	if u.Host != "triaged"+listen || u.Path != "/api/v1/alerts" {
		t.Errorf("Alertmanager posts to %s, but triaged listens on %q at /api/v1/alerts", u, listen)
	}

	// ... with a token triaged accepts: the file Alertmanager reads is the one triaged reads.
	auth := am.Receivers[0].WebhookConfigs[0].HTTPConfig.Authorization
	if auth.Type != "Bearer" {
		t.Errorf("Alertmanager's authorization type is %q, want Bearer", auth.Type)
	}
	tokenFlag := ""
	for _, arg := range compose.Services["triaged"].Command {
		if v, ok := strings.CutPrefix(arg, "--web.auth-token-file="); ok {
			tokenFlag = v
		}
	}
	amSource := mountSource(compose.Services["alertmanager"].Volumes, auth.CredentialsFile)
	triagedSource := mountSource(compose.Services["triaged"].Volumes, tokenFlag)
	if amSource == "" || amSource != triagedSource {
		t.Errorf("Alertmanager reads its token %s from %q, triaged its --web.auth-token-file %s from %q: want one file",
			auth.CredentialsFile, amSource, tokenFlag, triagedSource)
	}
}

// mountSource is the host path mounted at target, or "".
func mountSource(volumes []string, target string) string {
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// TestSlackExample: the Slack variant's config loads with its Slack sink, the compose override
// gives triaged that config and the token file the sink reads, the token is kept out of git,
// and the app manifest asks for the scopes the sink uses.
func TestSlackExample(t *testing.T) {
	p, err := load.File("triaged.slack.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(p.Sinks, func(s *notify.SinkPlan) bool { return s.Type() == "slack" }) {
		t.Fatal("triaged.slack.yml has no slack sink")
	}
	const tokenFile = "/run/secrets/slack_bot_token" // where compose puts the secret slack_bot_token
	cfg, err := os.ReadFile("triaged.slack.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "token_file: "+tokenFile) {
		t.Errorf("the slack sink does not read its token from %s", tokenFile)
	}

	var compose struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Volumes []string `yaml:"volumes"`
			Secrets []string `yaml:"secrets"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
	}
	data, err := os.ReadFile("docker-compose.slack.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	triaged := compose.Services["triaged"]
	configFlag := ""
	for _, arg := range triaged.Command {
		if v, ok := strings.CutPrefix(arg, "--config.file="); ok {
			configFlag = v
		}
	}
	if src := mountSource(triaged.Volumes, configFlag); src != "./examples/triaged.slack.yml" {
		t.Errorf("triaged reads %s from %q, want ./examples/triaged.slack.yml", configFlag, src)
	}
	if !strings.Contains(strings.Join(triaged.Command, " "), "--web.external-url=") {
		t.Error("no --web.external-url: the root message cannot link to the full report")
	}
	secret, ok := compose.Secrets["slack_bot_token"]
	if len(triaged.Secrets) != 1 || triaged.Secrets[0] != "slack_bot_token" || !ok {
		t.Fatalf("triaged gets secrets %q (defined: %v); want slack_bot_token at %s", triaged.Secrets, compose.Secrets, tokenFile)
	}
	ignore, _ := os.ReadFile("../.gitignore")
	if !strings.Contains(string(ignore), "/"+strings.TrimPrefix(secret.File, "./")+"\n") {
		t.Errorf("the bot token file %s is not in .gitignore", secret.File)
	}

	var manifest struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	data, err = os.ReadFile("slack-app-manifest.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{"chat:write", "channels:history", "groups:history"} {
		if !slices.Contains(manifest.OAuth.Scopes.Bot, scope) {
			t.Errorf("the app manifest lacks the %s scope", scope)
		}
	}
}
