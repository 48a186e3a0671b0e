package broker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/testkit"
)

// pki is a CA with a server certificate for 127.0.0.1 and a client certificate, as PEM files.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string // the client's
	otherCAFile               string // a CA that signed nothing here
	serverCert                tls.Certificate
	caPool                    *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	caKey, caCert, caPEM := newCA(t, "test CA")
	_, _, otherPEM := newCA(t, "other CA")
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(caCert)
	p.caFile, p.otherCAFile = p.write(t, "ca.pem", caPEM), p.write(t, "other.pem", otherPEM)
	srvCert, srvKey := leaf(t, caKey, caCert, "nats", []net.IP{net.IPv4(127, 0, 0, 1)}, x509.ExtKeyUsageServerAuth)
	var err error
	p.serverCert, err = tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey := leaf(t, caKey, caCert, "triaged", nil, x509.ExtKeyUsageClientAuth)
	p.certFile, p.keyFile = p.write(t, "client.pem", cliCert), p.write(t, "client-key.pem", cliKey)
	return p
}

func (p *pki) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newCA(t *testing.T, name string) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func leaf(t *testing.T, caKey *ecdsa.PrivateKey, ca *x509.Certificate, name string, ips []net.IP, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, IPAddresses: ips,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestExternalNATSWithTLSAndNKey: against a server that verifies client certificates and takes
// only a known NKey, triaged connects with the configured files and nothing less.
func TestExternalNATSWithTLSAndNKey(t *testing.T) {
	p := newPKI(t)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := p.write(t, "user.nk", seed)
	opts := natsserver.DefaultTestOptions
	opts.Port, opts.JetStream, opts.StoreDir = -1, true, t.TempDir()
	opts.TLS, opts.TLSVerify = true, true
	opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.caPool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	opts.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	ns := natsserver.RunServer(&opts)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := strings.Replace(ns.ClientURL(), "nats://", "tls://", 1)

	full := broker.ClientAccess{NKeySeedFile: seedFile, CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}
	tests := []struct {
		name   string
		access func(a broker.ClientAccess) broker.ClientAccess
		want   string // "" connects
	}{
		{"every file", func(a broker.ClientAccess) broker.ClientAccess { return a }, ""},
		{"no client certificate", func(a broker.ClientAccess) broker.ClientAccess { a.CertFile, a.KeyFile = "", ""; return a }, "tls"},
		{"another CA", func(a broker.ClientAccess) broker.ClientAccess { a.CAFile = p.otherCAFile; return a }, "certificate"},
		{"no nkey", func(a broker.ClientAccess) broker.ClientAccess { a.NKeySeedFile = ""; return a }, "authorization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.access(full).Options()
			if err != nil {
				t.Fatal(err)
			}
			nc, err := nats.Connect(url, append(o, nats.Timeout(2*time.Second))...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				nc.Close()
				return
			}
			if err == nil {
				nc.Close()
				t.Fatalf("connected, want an error about %q", tt.want)
			}
			if !strings.Contains(strings.ToLower(err.Error()), tt.want) {
				t.Errorf("connect: %v, want an error about %q", err, tt.want)
			}
		})
	}

	// Connect, as the daemon uses it, reaches JetStream through TLS with the NKey.
	nc, err := broker.Connect(url, full, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	testkit.Eventually(t, 5*time.Second, "connected over TLS", nc.IsConnected)
	js, _ := jetstream.New(nc)
	if _, err := broker.Ensure(context.Background(), js, broker.MustNames("triaged"), broker.DefaultTopologyOptions()); err != nil {
		t.Fatalf("topology over TLS: %v", err)
	}
}

// TestExternalNATSWithCredsFile: a user JWT and seed, as nsc writes them, log in to a server in
// operator mode.
func TestExternalNATSWithCredsFile(t *testing.T) {
	operator, _ := nkeys.CreateOperator()
	opub, _ := operator.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	if _, err := oc.Encode(operator); err != nil {
		t.Fatal(err)
	}
	account, _ := nkeys.CreateAccount()
	apub, _ := account.PublicKey()
	ajwt, err := jwt.NewAccountClaims(apub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := nkeys.CreateUser()
	upub, _ := user.PublicKey()
	ujwt, err := jwt.NewUserClaims(upub).Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	credsFile := filepath.Join(dir, "triaged.creds")
	if err := os.WriteFile(credsFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(apub, ajwt); err != nil {
		t.Fatal(err)
	}
	opts := natsserver.DefaultTestOptions
	opts.Port = -1
	opts.TrustedOperators = []*jwt.OperatorClaims{oc}
	opts.AccountResolver = resolver
	ns := natsserver.RunServer(&opts)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	o, err := broker.ClientAccess{CredsFile: credsFile}.Options()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL(), append(o, nats.Timeout(2*time.Second))...)
	if err != nil {
		t.Fatalf("connect with the creds file: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(ns.ClientURL(), nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("connected without credentials: the test server does not require them")
	}
	notCreds := filepath.Join(dir, "seed.nk")
	if err := os.WriteFile(notCreds, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (broker.ClientAccess{CredsFile: notCreds}).Options(); err == nil || !strings.Contains(err.Error(), "nats.creds_file: "+notCreds+" holds no NATS user JWT") {
		t.Errorf("a seed given as creds file: %v", err)
	}
}

// TestEmbeddedListenerNeedsAToken: the embedded server refuses to listen beyond loopback
// without a token, and with one takes only clients that present it.
func TestEmbeddedListenerNeedsAToken(t *testing.T) {
	if _, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir(), ListenAddress: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "nats.embedded_token_file") {
		t.Fatalf("exposed without a token: %v", err)
	}
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir(), ListenAddress: "127.0.0.1:0", Token: "s3cret", SyncAlways: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if nc, err := nats.Connect(ns.ClientURL(), nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("connected to the embedded server without its token")
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.Token("s3cret"), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	nc.Close()
	inproc, err := broker.ConnectEmbedded(ns, "s3cret", nil)
	if err != nil {
		t.Fatalf("in process with the token: %v", err)
	}
	inproc.Close()
}
