package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
)

// Bounds of a token file's content: long enough not to be guessed through an endpoint that
// answers as fast as it can, short enough that a wrong path (a log, a core file) is noticed.
const (
	minTokenLength = 16
	maxTokenFile   = 4 << 10
)

// webAuth guards the endpoints that change something: webhooks page people, deploys become
// "suspect" changes in reports, and a reload swaps the rules. Reads stay as open as Prometheus'
// API; the exporter-toolkit web config, when it has users, still guards every endpoint.
type webAuth struct {
	files         []string
	webConfigFile string
	listen        string
	exposed       bool // the listen address reaches beyond this host
	allowUnauth   bool
	tokens        atomic.Pointer[[][sha256.Size]byte]
	rejected      *prometheus.CounterVec
	log           *slog.Logger
}

// newWebAuth reads the token files and refuses to serve a non-loopback address without any
// authentication unless told so explicitly.
func newWebAuth(o Options, reg prometheus.Registerer, log *slog.Logger) (*webAuth, error) {
	w := &webAuth{
		files:         o.AuthTokenFiles,
		webConfigFile: o.WebConfigFile,
		listen:        o.ListenAddress,
		allowUnauth:   o.AllowUnauthenticated,
		log:           log,
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_http_unauthorized_requests_total",
			Help: "Requests to a write endpoint refused with 401, by handler and reason (missing: no bearer token; invalid: not an accepted token).",
		}, []string{"handler", "reason"}),
	}
	if err := reg.Register(w.rejected); err != nil {
		return nil, err
	}
	tokens, err := readTokens(w.files)
	if err != nil {
		return nil, err
	}
	w.tokens.Store(&tokens)
	if w.exposed, err = exposedAddress(w.listen); err != nil {
		return nil, err
	}
	authn, err := w.authenticated()
	if err != nil {
		return nil, err
	}
	if w.exposed && !authn && !w.allowUnauth {
		return nil, fmt.Errorf("--web.listen-address %q reaches beyond this host, and no authentication is configured: "+
			"give --web.auth-token-file, or basic_auth_users or client_auth_type: RequireAndVerifyClientCert in --web.config.file; "+
			"listen on localhost only; or, behind a proxy that authenticates, pass --web.allow-unauthenticated", w.listen)
	}
	if len(w.files) > 0 {
		log.Info("write endpoints need a bearer token", "token_files", len(w.files))
	}
	w.warnUnauthenticated(authn)
	return w, nil
}

// reload re-reads the token files, all or none: a failure keeps the tokens in force. It also
// says again when the daemon serves other hosts without authentication, as at start.
func (w *webAuth) reload() error {
	if len(w.files) > 0 {
		tokens, err := readTokens(w.files)
		if err != nil {
			return fmt.Errorf("bearer tokens not reloaded, the previous ones stay in force: %w", err)
		}
		w.tokens.Store(&tokens)
		w.log.Info("bearer tokens reloaded", "files", len(w.files))
	}
	authn, err := w.authenticated()
	if err != nil {
		return err
	}
	if w.exposed && !authn && !w.allowUnauth {
		// The web config is read by every request, so its users can vanish after start.
		return fmt.Errorf("--web.listen-address %q reaches beyond this host, and %s has no basic_auth_users any more: anyone who reaches it can post alerts", w.listen, w.webConfigFile)
	}
	w.warnUnauthenticated(authn)
	return nil
}

func (w *webAuth) warnUnauthenticated(authn bool) {
	if w.exposed && !authn {
		w.log.Warn("serving without authentication beyond this host (--web.allow-unauthenticated): anyone who reaches it can page, record deploys and reload rules",
			"listen", w.listen)
	}
}

// authenticated says whether any authentication guards the write endpoints. It refuses bearer
// tokens together with basic auth: a request carries one Authorization header, so the write
// endpoints would take no request at all.
func (w *webAuth) authenticated() (bool, error) {
	basic, mtls, err := webConfigAuth(w.webConfigFile)
	if err != nil {
		return false, err
	}
	if basic && len(w.files) > 0 {
		return false, fmt.Errorf("--web.auth-token-file and basic_auth_users of --web.config.file %s cannot be used together: "+
			"a request carries one Authorization header, so no webhook could pass both; choose one", w.webConfigFile)
	}
	return basic || mtls || len(w.files) > 0, nil
}

// webConfigAuth reads which authentication an exporter-toolkit web config sets up: basic auth
// users, or client certificates that must verify.
func webConfigAuth(file string) (basic, mtls bool, err error) {
	if file == "" {
		return false, false, nil
	}
	if err := web.Validate(file); err != nil {
		return false, false, fmt.Errorf("--web.config.file %s: %w", file, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return false, false, fmt.Errorf("--web.config.file: %w", err)
	}
	var c struct {
		Users map[string]string `yaml:"basic_auth_users"`
		TLS   struct {
			ClientAuth string `yaml:"client_auth_type"`
		} `yaml:"tls_server_config"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return false, false, fmt.Errorf("--web.config.file %s: %w", file, err)
	}
	return len(c.Users) > 0, c.TLS.ClientAuth == "RequireAndVerifyClientCert", nil
}

// readTokens reads one token from each file, trimmed of surrounding white space as Alertmanager
// and Prometheus read a credentials_file. Only digests are kept: comparing fixed-size digests
// in constant time tells a caller nothing, not even a token's length.
func readTokens(files []string) ([][sha256.Size]byte, error) {
	var errs []error
	var tokens [][sha256.Size]byte
	for _, f := range files {
		tok, err := readToken(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tokens = append(tokens, sha256.Sum256([]byte(tok)))
	}
	return tokens, errors.Join(errs...)
}

func readToken(file string) (string, error) {
	fh, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("--web.auth-token-file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("--web.auth-token-file %s: %w", file, err)
	}
	if len(data) > maxTokenFile {
		return "", fmt.Errorf("--web.auth-token-file %s: larger than %d bytes; the file holds one bearer token", file, maxTokenFile)
	}
	tok := strings.TrimSpace(string(data))
	switch {
	case tok == "":
		return "", fmt.Errorf("--web.auth-token-file %s: the file is empty; it must hold one bearer token (e.g. from openssl rand -hex 32)", file)
	case strings.ContainsFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return "", fmt.Errorf("--web.auth-token-file %s: the token contains white space or control characters; the file holds one token (give the flag once per token)", file)
	case len(tok) < minTokenLength:
		return "", fmt.Errorf("--web.auth-token-file %s: the token has %d characters, want at least %d (e.g. from openssl rand -hex 32)", file, len(tok), minTokenLength)
	}
	return tok, nil
}

// require guards a write endpoint with the bearer tokens; without token files it passes every
// request on (basic auth, client certificates, loopback or an explicit flag then stand guard).
func (w *webAuth) require(handler string, next http.Handler) http.Handler {
	if len(w.files) == 0 {
		return next
	}
	missing := w.rejected.WithLabelValues(handler, "missing")
	invalid := w.rejected.WithLabelValues(handler, "invalid")
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			missing.Inc()
			w.log.Debug("request without a bearer token refused", "handler", handler, "remote", r.RemoteAddr)
			unauthorized(rw, `Bearer realm="triaged"`, handler+" needs an \"Authorization: Bearer TOKEN\" header with a token of --web.auth-token-file; the request had none")
			return
		}
		if !w.accepts(tok) {
			invalid.Inc()
			w.log.Debug("request with a wrong bearer token refused", "handler", handler, "remote", r.RemoteAddr)
			unauthorized(rw, `Bearer realm="triaged", error="invalid_token"`, "the bearer token is not accepted by "+handler)
			return
		}
		next.ServeHTTP(rw, r)
	})
}

// accepts compares with every token, none skipped, so the time taken does not say which matched.
func (w *webAuth) accepts(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	match := 0
	for _, t := range *w.tokens.Load() {
		match |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	return match == 1
}

// bearerToken takes the token of an RFC 6750 Authorization header; the scheme is case-insensitive.
func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func unauthorized(w http.ResponseWriter, challenge, msg string) {
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, "401 Unauthorized: "+msg, http.StatusUnauthorized)
}

// exposedAddress says whether a listen address reaches beyond this host: every address that is
// not a loopback one, including the empty host (all interfaces). A host name counts as loopback
// only when every address it resolves to is.
func exposedAddress(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--web.listen-address %q: %w", addr, err)
	}
	if host == "" {
		return true, nil
	}
	if strings.EqualFold(host, "localhost") {
		return false, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return !ip.IsLoopback(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return false, fmt.Errorf("--web.listen-address %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return true, nil
		}
	}
	return false, nil
}
