package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/config"
)

// An embedded NATS reachable from other hosts without a token would let anyone page, read and
// delete; the external connection's credential files must exist. Each is refused by name.
func TestNATSAccessIsChecked(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		yaml string
		want string // "" loads
	}{
		{"loopback without token", "nats:\n  embedded_listen_address: 127.0.0.1:4222\n", ""},
		{"localhost without token", "nats:\n  embedded_listen_address: localhost:4222\n", ""},
		{"every interface without token", "nats:\n  embedded_listen_address: :4222\n",
			`triaged.yml:2:28: nats.embedded_listen_address: ":4222" is not a loopback address: set nats.embedded_token_file`},
		{"public address without token", "nats:\n  embedded_listen_address: 0.0.0.0:4222\n",
			`nats.embedded_listen_address: "0.0.0.0:4222" is not a loopback address`},
		{"exposed with token", "nats:\n  embedded_listen_address: 0.0.0.0:4222\n  embedded_token_file: " + token + "\n", ""},
		{"not host:port", "nats:\n  embedded_listen_address: 4222\n", `nats.embedded_listen_address: "4222" is not host:port`},
		{"missing token file", "nats:\n  embedded_token_file: nope\n", "nats.embedded_token_file: open " + filepath.Join(dir, "nope")},
		{"creds and nkey", "nats:\n  creds_file: " + token + "\n  nkey_seed_file: " + token + "\n", "nats.nkey_seed_file: set nats.creds_file or nats.nkey_seed_file, not both"},
		{"cert without key", "nats:\n  tls_config:\n    cert_file: " + token + "\n", "nats.tls_config: cert_file and key_file go together"},
		{"missing CA", "nats:\n  tls_config:\n    ca_file: ca.pem\n", "nats.tls_config.ca_file: open " + filepath.Join(dir, "ca.pem")},
		{"sync interval", "nats:\n  embedded_sync_interval: 0s\n", "nats.embedded_sync_interval: must be a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load([]byte(tt.yaml), filepath.Join(dir, "triaged.yml"))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
