package app

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestWhatCountsAsAuthentication: which listen addresses need authentication, and which web
// configs provide it. TLS alone does not: it hides the traffic, not who sends it.
func TestWhatCountsAsAuthentication(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	web := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	basic := web("basic.yml", "basic_auth_users:\n  alertmanager: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\n")
	tlsOnly := web("tls.yml", "tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+"\n")
	mtls := web("mtls.yml", "tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+"\n  client_ca_file: "+cert+"\n  client_auth_type: RequireAndVerifyClientCert\n")
	optionalCert := web("optional.yml", "tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+"\n  client_ca_file: "+cert+"\n  client_auth_type: VerifyClientCertIfGiven\n")

	const refused, ok, warned = "refused", "ok", "warned"
	tests := []struct {
		listen, webConfig string
		allow             bool
		want              string
	}{
		{"localhost:9095", "", false, ok},
		{"LOCALHOST:9095", "", false, ok},
		{"127.0.0.1:9095", "", false, ok},
		{"127.1.2.3:9095", "", false, ok},
		{"[::1]:9095", "", false, ok},
		{":9095", "", false, refused},
		{"0.0.0.0:9095", "", false, refused},
		{"[::]:9095", "", false, refused},
		{":9095", "", true, warned},
		{"localhost:9095", "", true, ok}, // nothing to warn about on loopback
		{":9095", basic, false, ok},
		{":9095", mtls, false, ok},
		{":9095", tlsOnly, false, refused},
		{":9095", optionalCert, false, refused},
		{":9095", tlsOnly, true, warned},
	}
	for _, tt := range tests {
		name := tt.listen + " " + filepath.Base(tt.webConfig)
		if tt.allow {
			name += " allowed"
		}
		t.Run(name, func(t *testing.T) {
			var log bytes.Buffer
			_, err := newWebAuth(Options{ListenAddress: tt.listen, WebConfigFile: tt.webConfig, AllowUnauthenticated: tt.allow},
				prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&log, nil)))
			got := ok
			switch {
			case err != nil && strings.Contains(err.Error(), "reaches beyond this host, and no authentication is configured"):
				got = refused
			case err != nil:
				t.Fatal(err)
			case strings.Contains(log.String(), "level=WARN"):
				got = warned
			}
			if got != tt.want {
				t.Fatalf("%s, want %s (err %v)\n%s", got, tt.want, err, log.String())
			}
		})
	}
}

// TestReloadNoticesBasicAuthGone: exporter-toolkit reads the web config on every request, so its
// users can be removed after start; the next reload says the daemon is open now.
func TestReloadNoticesBasicAuthGone(t *testing.T) {
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  am: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := newWebAuth(Options{ListenAddress: ":9095", WebConfigFile: webConfig}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.reload(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(webConfig, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.reload(); err == nil || !strings.Contains(err.Error(), webConfig+" has no basic_auth_users any more") {
		t.Fatalf("reload after the users were removed: %v", err)
	}
}

// selfSigned writes a certificate and its key, good as server certificate and client CA.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "triaged.test"},
		DNSNames:              []string{"triaged.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
