package broker

import (
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configures the in-process NATS server used when no external URL is given.
type EmbeddedOptions struct {
	StoreDir string // JetStream file storage
	// ListenAddress exposes the embedded server on host:port for other tools (nats CLI, a second
	// triaged); empty means no network listener at all.
	ListenAddress string
	// Token is what every client must present (nats://TOKEN@host:port); required when
	// ListenAddress can be reached from other hosts (ListenerExposed).
	Token string
	// SyncInterval is how often JetStream's files are flushed to disk (0: nats-server's 2m);
	// SyncAlways flushes every write before it is acknowledged.
	SyncInterval time.Duration
	SyncAlways   bool
	Logger       *slog.Logger
}

// StartEmbedded starts an in-process NATS server with JetStream on file storage and waits until
// it takes connections.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "triaged-embedded",
		JetStream:  true,
		StoreDir:   filepath.Join(o.StoreDir, "jetstream"),
		NoSigs:     true,
		DontListen: o.ListenAddress == "",
		// Every client, the in-process one too, presents it.
		Authorization: o.Token,
		SyncInterval:  o.SyncInterval,
		SyncAlways:    o.SyncAlways,
	}
	if o.ListenAddress != "" && o.Token == "" && ListenerExposed(o.ListenAddress) {
		return nil, fmt.Errorf("embedded NATS listen address %q can be reached from other hosts: set nats.embedded_token_file so that clients must present a token, or listen on 127.0.0.1", o.ListenAddress)
	}
	if o.ListenAddress != "" {
		host, port, err := splitHostPort(o.ListenAddress)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS listen address %q: %w", o.ListenAddress, err)
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configure embedded NATS server: %w", err)
	}
	if o.Logger != nil {
		ns.SetLoggerV2(slogAdapter{o.Logger.With("component", "nats-server")}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS server (store %s) not ready after 30s", opts.StoreDir)
	}
	return ns, nil
}

// A server that stops answering but keeps the connection open (frozen, or cut off by a
// partition that drops packets) is noticed only by unanswered pings: with nats.go's default of
// one every 2 minutes, two outstanding, a replica stayed on such a node, not ready, for 4 to 6
// minutes. A ping every 5 s gives the node up after 10 to 15 s, and the client moves to another
// node of the cluster (TestClusterPartition).
const (
	pingInterval        = 5 * time.Second
	maxPingsOutstanding = 2
)

// ConnectOptions are the client options shared by the embedded and external cases.
func ConnectOptions(name string, logger *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOutstanding),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Warn("NATS async error", "subject", subject, "err", err)
		}),
	}
}

// ConnectEmbedded connects to ns in process, without a socket, with the server's token if any.
func ConnectEmbedded(ns *server.Server, token string, logger *slog.Logger) (*nats.Conn, error) {
	opts := append(ConnectOptions("triaged", logger), nats.InProcessServer(ns))
	if token != "" {
		opts = append(opts, nats.Token(token))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	return nc, nil
}

// Connect connects to an external NATS server or cluster with access's credentials and TLS. It
// returns at once and keeps trying to connect in the background, backing off, so triaged can
// start before NATS does; the connection's status says when it is connected.
func Connect(url string, access ClientAccess, logger *slog.Logger) (*nats.Conn, error) {
	sec, err := access.Options()
	if err != nil {
		return nil, err
	}
	opts := append(ConnectOptions("triaged", logger), sec...)
	opts = append(opts, nats.RetryOnFailedConnect(true), nats.CustomReconnectDelay(ReconnectDelay))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", RedactURLs(url), err)
	}
	return nc, nil
}

// ReconnectDelay backs off from 250ms to at most 5s: a NATS that is not up yet is not hammered,
// one back after a blip is found again within seconds.
func ReconnectDelay(attempts int) time.Duration {
	return min(250*time.Millisecond<<min(attempts, 5), 5*time.Second)
}

// RedactURLs hides the passwords and tokens in a comma-separated list of NATS URLs, for logs
// and errors.
func RedactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := neturl.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, hasPassword := u.User.Password(); !hasPassword {
			u.User = neturl.User("xxxxx") // a bare user part is a token
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}

func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	var port int
	if _, err := fmt.Sscanf(portText, "%d", &port); err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", portText)
	}
	return host, port, nil
}

// slogAdapter routes the embedded server's logs through triaged's logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  {}
