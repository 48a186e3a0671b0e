package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/config"
)

func TestPrometheusConfig(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		want       []string
	}{
		{"both password and password_file", `prometheus:
  url: http://prometheus:9090
  http_config:
    basic_auth:
      username: triaged
      password: pw
      password_file: pw.txt
`, []string{"triaged.yml:4:5: prometheus.http_config: at most one of basic_auth password, password_file & password_ref must be configured"}},
		{"a service's own, with a bad TLS block and an unknown key", `services:
  - name: checkout
    prometheus:
      url: http://thanos:9090
      http_config:
        tls_config:
          ca: x
          ca_file: y
        bearer_tokn: z
`, []string{
			"triaged.yml:6:9: services[0].prometheus.http_config: at most one of ca, ca_file & ca_ref must be configured",
			"triaged.yml:9:9: services[0].prometheus.http_config.bearer_tokn: unknown key",
		}},
		{"a timeout not below the enrichment's", `enrichment:
  timeout: 5s
prometheus:
  url: http://prometheus:9090
  timeout: 5s
`, []string{"triaged.yml:5:12: prometheus.timeout: 5s must be below enrichment.timeout 5s"}},
		{"a bad URL and window", `prometheus:
  url: prometheus:9090/api/v1
  window: 30d
  external_urls: ["http://p/?x=1"]
  before: 30s
`, []string{
			`triaged.yml:2:8: prometheus.url: "prometheus:9090/api/v1" is not an http(s) URL with a host`,
			"triaged.yml:3:11: prometheus.window: must be positive and at most 7d",
			`triaged.yml:4:19: prometheus.external_urls[0]: "http://p/?x=1" has a query or fragment`,
			"triaged.yml:5:11: prometheus.before: 30s: must be at least 1m",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load([]byte(tt.yaml), "triaged.yml")
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// The inline keys of the block and of http_config are known, and file paths are relative to
// the config's directory.
func TestPrometheusConfigLoads(t *testing.T) {
	c, err := config.Load([]byte(`prometheus:
  url: http://prometheus:9090
  external_urls: [https://prometheus.example.com]
  timeout: 3s
  http_config:
    authorization:
      credentials_file: token
    proxy_url: http://proxy:3128
    http_headers:
      X-Scope-OrgID:
        values: [tenant]
    tls_config:
      ca_file: ca.pem
`), "/etc/triaged/triaged.yml")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Prometheus
	if !p.Enabled() || p.Timeout.Std().Seconds() != 3 || p.HTTP.Authorization.CredentialsFile != filepath.FromSlash("/etc/triaged/token") ||
		p.HTTP.TLSConfig.CAFile != filepath.FromSlash("/etc/triaged/ca.pem") || p.HTTP.ProxyURL.String() != "http://proxy:3128" || !p.HTTP.FollowRedirects {
		t.Errorf("settings %+v", p)
	}
}
