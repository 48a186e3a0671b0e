package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// ClientAccess is how triaged proves who it is to an external NATS, and how it checks that the
// server is the right one: the config's nats.creds_file, nats.nkey_seed_file and
// nats.tls_config. The zero value is a plain connection (credentials in the URL still work).
type ClientAccess struct {
	CredsFile    string // JWT and NKey seed, as `nsc` writes them
	NKeySeedFile string
	// TLS is required as soon as any of these is set.
	CAFile, CertFile, KeyFile string
	ServerName                string
	InsecureSkipVerify        bool
}

func (c ClientAccess) tls() bool {
	return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "" || c.InsecureSkipVerify
}

// Options reads the files now, so a missing or malformed one stops the start with its name
// rather than failing every reconnect.
func (c ClientAccess) Options() ([]nats.Option, error) {
	var opts []nats.Option
	if c.CredsFile != "" {
		data, err := os.ReadFile(c.CredsFile)
		if err != nil {
			return nil, fmt.Errorf("nats.creds_file: %w", err)
		}
		if !strings.Contains(string(data), "BEGIN NATS USER JWT") {
			return nil, fmt.Errorf("nats.creds_file: %s holds no NATS user JWT (want a .creds file as nsc writes it)", c.CredsFile)
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats.nkey_seed_file: %w", err)
		}
		opts = append(opts, o)
	}
	if !c.tls() {
		return opts, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // an operator's explicit choice
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("nats.tls_config.ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("nats.tls_config.ca_file: no PEM certificate in %s", c.CAFile)
		}
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats.tls_config.cert_file, key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return append(opts, nats.Secure(cfg)), nil
}

// ListenerExposed says whether a listener on addr (host:port) can be reached from other hosts:
// any host but loopback, the empty one (every interface) included.
func ListenerExposed(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
