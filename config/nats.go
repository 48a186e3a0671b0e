package config

import (
	"net"
	"os"

	"github.com/triaged/triaged/broker"
)

// NATSTLS is the TLS of the connection to an external NATS, as Prometheus' tls_config names it.
type NATSTLS struct {
	CAFile             string `yaml:"ca_file"`   // CA certificates the server's certificate is checked against
	CertFile           string `yaml:"cert_file"` // client certificate, for servers that verify clients
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"` // expected in the server's certificate; default: the URL's host
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Enabled says whether any TLS setting is made: then the connection requires TLS.
func (t NATSTLS) Enabled() bool { return t != NATSTLS{} }

func (n *NATS) resolvePaths(abs func(string) string) {
	n.EmbeddedTokenFile = abs(n.EmbeddedTokenFile)
	n.CredsFile = abs(n.CredsFile)
	n.NKeySeedFile = abs(n.NKeySeedFile)
	n.TLS.CAFile = abs(n.TLS.CAFile)
	n.TLS.CertFile = abs(n.TLS.CertFile)
	n.TLS.KeyFile = abs(n.TLS.KeyFile)
}

// EmbeddedExposed says whether the embedded server's listener can be reached from other hosts.
func (n *NATS) EmbeddedExposed() bool {
	return n.EmbeddedListen != "" && broker.ListenerExposed(n.EmbeddedListen)
}

// validateNATSAccess checks who may reach the embedded server and how triaged reaches an
// external one: anyone who can reach an unauthenticated NATS can page, read and delete all.
func (c *Config) validateNATSAccess(v check) {
	n := c.NATS
	v.positive("nats.embedded_sync_interval", n.EmbeddedSyncInterval)
	if n.EmbeddedListen != "" {
		if _, _, err := net.SplitHostPort(n.EmbeddedListen); err != nil {
			v.At("nats.embedded_listen_address", "%q is not host:port: %v", n.EmbeddedListen, err)
		} else if n.EmbeddedExposed() && n.EmbeddedTokenFile == "" {
			v.At("nats.embedded_listen_address", "%q is not a loopback address: set nats.embedded_token_file, so that clients must present a token, or listen on 127.0.0.1", n.EmbeddedListen)
		}
	}
	if n.CredsFile != "" && n.NKeySeedFile != "" {
		v.At("nats.nkey_seed_file", "set nats.creds_file or nats.nkey_seed_file, not both")
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		v.At("nats.tls_config", "cert_file and key_file go together: set both or neither")
	}
	for _, f := range []struct{ key, path string }{
		{"nats.embedded_token_file", n.EmbeddedTokenFile},
		{"nats.creds_file", n.CredsFile},
		{"nats.nkey_seed_file", n.NKeySeedFile},
		{"nats.tls_config.ca_file", n.TLS.CAFile},
		{"nats.tls_config.cert_file", n.TLS.CertFile},
		{"nats.tls_config.key_file", n.TLS.KeyFile},
	} {
		key, path := f.key, f.path
		if path == "" {
			continue
		}
		if f, err := os.Open(path); err != nil {
			v.At(key, "%v", err)
		} else {
			f.Close()
		}
	}
}
