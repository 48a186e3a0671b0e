package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/deploy"
)

// healInterval is how often the JetStream objects are looked up when nothing else (a reconnect,
// a readiness probe, a consumer loop that lost its consumer) has asked.
const healInterval = 10 * time.Second

// connectNATS connects to the external NATS, or starts the embedded server and connects in
// process. An external NATS that is not up yet is not an error: the connection keeps trying.
func (a *App) connectNATS() error {
	n := a.cfg.NATS
	if a.opts.NATSURL != "" {
		nc, err := broker.Connect(a.opts.NATSURL, broker.ClientAccess{
			CredsFile: n.CredsFile, NKeySeedFile: n.NKeySeedFile,
			CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile,
			ServerName: n.TLS.ServerName, InsecureSkipVerify: n.TLS.InsecureSkipVerify,
		}, a.log)
		if err != nil {
			return err
		}
		a.nc = nc
		a.onShutdown("NATS connection", drainConn(nc))
		a.log.Info("using external NATS", "url", broker.RedactURLs(a.opts.NATSURL))
		return nil
	}
	token, err := readEmbeddedToken(n.EmbeddedTokenFile)
	if err != nil {
		return err
	}
	dir := filepath.Join(a.opts.StoragePath, "nats")
	unlock, err := broker.LockStore(dir)
	if err != nil {
		return err
	}
	a.onShutdown("storage lock", func(context.Context) error { return unlock() })
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{
		StoreDir:      dir,
		ListenAddress: n.EmbeddedListen,
		Token:         token,
		SyncInterval:  n.EmbeddedSyncInterval.Std(),
		SyncAlways:    n.EmbeddedSyncAlways,
		Logger:        a.log,
	})
	if err != nil {
		return err
	}
	a.onShutdown("embedded NATS server", func(context.Context) error {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil
	})
	a.log.Info("started embedded NATS server", "storage", dir, "listen", listenText(n.EmbeddedListen, ns), "token", token != "")
	nc, err := broker.ConnectEmbedded(ns, token, a.log)
	if err != nil {
		return err
	}
	a.nc = nc
	a.onShutdown("NATS connection", drainConn(nc))
	return nil
}

// readEmbeddedToken reads the embedded server's token; "" when no file is configured.
func readEmbeddedToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("nats.embedded_token_file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("nats.embedded_token_file: %s is empty", path)
	}
	return token, nil
}

func listenText(addr string, ns *server.Server) string {
	if addr == "" {
		return "none (in-process only)"
	}
	return ns.ClientURL()
}

// waitForNATS waits until NATS is connected and the topology is in place, logging what it waits
// for, backing off up to 30s between attempts, until ctx is done (SIGINT). Meanwhile the HTTP
// server answers /-/healthy, and /-/ready with 503 and what it waits for.
func (a *App) waitForNATS(ctx context.Context) error {
	url := broker.RedactURLs(a.opts.NATSURL)
	if url == "" {
		url = "the embedded server"
	}
	connected := a.nc.StatusChanged(nats.CONNECTED)
	defer a.nc.RemoveStatusListener(connected)
	wait := time.Second
	for {
		err := a.tryTopology(ctx)
		if err == nil {
			return nil
		}
		if permanent(err) {
			return err
		}
		a.starting.Store(fmt.Sprintf("waiting for NATS at %s: %v", url, err))
		a.log.Warn("waiting for NATS at "+url, "status", a.nc.Status().String(), "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting for NATS at %s: %w", url, ctx.Err())
		case err := <-a.serveErr:
			return fmt.Errorf("HTTP server: %w", err)
		case <-connected:
		case <-time.After(wait):
			wait = min(2*wait, 30*time.Second)
		}
	}
}

// tryTopology creates or updates the topology once, if NATS is connected.
func (a *App) tryTopology(ctx context.Context) error {
	if !a.nc.IsConnected() {
		return fmt.Errorf("not connected (%s)", a.nc.Status())
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return a.ensureTopology(ctx)
}

// permanent says whether NATS refused the topology for a reason that waiting will not change (an
// invalid configuration, a server without JetStream), as opposed to not being reachable or ready
// yet. A cluster that cannot place a stream's replicas because a peer is offline is not ready
// yet, though it says so with a 400: a node restarting, or one the meta leader has not heard
// from since it started, makes a replica started meanwhile wait, not exit.
func permanent(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	if apiErr.ErrorCode == jsClusterNoPeers && strings.Contains(apiErr.Description, "peer offline") {
		return false
	}
	return apiErr.Code >= 400 && apiErr.Code < 500
}

// jsClusterNoPeers is nats-server's error code for "no suitable peers for placement", which
// nats.go does not name.
const jsClusterNoPeers jetstream.ErrorCode = 10005

// ensureTopology creates or updates every stream, consumer and bucket of the configured
// topology; it is idempotent, and the Healer runs it again when something went missing.
func (a *App) ensureTopology(ctx context.Context) error {
	topo := a.topologyOptions()
	t, err := broker.Ensure(ctx, a.js, a.names, topo)
	if err != nil {
		return err
	}
	if a.topology == nil {
		a.topology = t // set once: the handles stay valid when what they name is recreated
	}
	if _, err := deploy.EnsureStream(ctx, a.js, a.names, a.cfg.Enrichment.DeploysMaxAge.Std(), a.cfg.NATS.Replicas, a.cfg.NATS.DeploysMaxBytes); err != nil {
		return err
	}
	for _, s := range a.cfg.Sinks {
		if _, err := broker.EnsureSinkConsumer(ctx, a.js, a.names, s.Name, s.Concurrency, topo); err != nil {
			return err
		}
	}
	return nil
}

// setupHealer recreates what goes missing from the topology while triaged runs.
func (a *App) setupHealer() {
	sinks := make([]string, len(a.cfg.Sinks))
	for i, s := range a.cfg.Sinks {
		sinks[i] = s.Name
	}
	a.healer = broker.NewHealer(a.js, broker.HealerOptions{
		Objects:    a.healedObjects(sinks),
		Repair:     a.ensureTopology,
		Interval:   healInterval,
		Conn:       a.nc,
		Logger:     a.log.With("component", "heal"),
		Registerer: a.registry,
	})
	a.runners = append(a.runners, a.healer.Run)
}

// drainConn lets pending publishes and acks reach the server before the connection closes.
func drainConn(nc *nats.Conn) func(context.Context) error {
	return func(ctx context.Context) error {
		closed := make(chan struct{})
		nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if err := nc.Drain(); err != nil {
			nc.Close()
			return err
		}
		select {
		case <-closed:
			return nil
		case <-ctx.Done():
			nc.Close()
			return fmt.Errorf("drain NATS connection: %w", ctx.Err())
		}
	}
}
