package broker

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
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
	Logger        *slog.Logger
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

// ConnectOptions are the client options shared by the embedded and external cases.
func ConnectOptions(name string, logger *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
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

// ConnectEmbedded connects to ns in process, without a socket.
func ConnectEmbedded(ns *server.Server, logger *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect("", append(ConnectOptions("triaged", logger), nats.InProcessServer(ns))...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	return nc, nil
}

// Connect connects to an external NATS server or cluster. It retries the first connection
// until it succeeds, so triaged can start before NATS does; readiness says when it has.
func Connect(url string, logger *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(url, append(ConnectOptions("triaged", logger), nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", url, err)
	}
	return nc, nil
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
