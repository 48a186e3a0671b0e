// Command triaged is the daemon: it takes Alertmanager webhooks, triages each alert through NATS
// JetStream and posts an initial incident report. This file only parses flags and runs the app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // rules.timezone must work on minimal images without a zone database

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"

	"github.com/triaged/triaged/app"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("triaged", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o app.Options
	fs.StringVar(&o.ConfigFile, "config.file", "", "triaged configuration file (YAML). Empty: built-in defaults (embedded NATS, default rules, stdout reports).")
	fs.StringVar(&o.ListenAddress, "web.listen-address", "localhost:9095", "Address to listen on for the webhook, API, metrics and health endpoints. Any address beyond loopback (e.g. :9095) needs authentication (--web.auth-token-file, or basic auth or client certificates in --web.config.file) or --web.allow-unauthenticated.")
	fs.StringVar(&o.ExternalURL, "web.external-url", "", "The URL under which triaged is externally reachable (for example, if triaged is served via a reverse proxy). Chat messages link to the full report there.")
	fs.StringVar(&o.RoutePrefix, "web.route-prefix", "", "Prefix for the internal routes of web endpoints. Defaults to path of --web.external-url.")
	fs.StringVar(&o.WebConfigFile, "web.config.file", "", "Path to a Prometheus exporter-toolkit web config file enabling TLS or basic authentication.")
	fs.Func("web.auth-token-file", "`FILE` holding a bearer token that POST /api/v1/alerts, /api/v1/deploys and /-/reload accept. Repeat for several tokens (rotation); re-read on reload.", func(file string) error {
		if file == "" {
			return errors.New("must name a file")
		}
		o.AuthTokenFiles = append(o.AuthTokenFiles, file)
		return nil
	})
	fs.BoolVar(&o.AllowUnauthenticated, "web.allow-unauthenticated", false, "Serve a non-loopback --web.listen-address without any authentication (e.g. behind a proxy that authenticates). Logged as a warning at start and on every reload.")
	fs.StringVar(&o.StoragePath, "storage.path", "data/", "Base path for the embedded NATS server's JetStream storage.")
	fs.StringVar(&o.NATSURL, "nats.url", "", "URL(s) of an external NATS server or cluster with JetStream, comma-separated. Empty: run an embedded NATS server.")
	fs.IntVar(&o.MaxConnections, "web.max-connections", 512, "Maximum number of simultaneous HTTP connections; more wait to be accepted.")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown.timeout", 30*time.Second, "How long to wait for in-flight work on shutdown; unfinished messages are redelivered.")
	level := promslog.NewLevel()
	_ = level.Set("info")
	fs.Var(level, "log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]")
	format := promslog.NewFormat()
	_ = format.Set("logfmt")
	fs.Var(format, "log.format", "Output format of log messages. One of: [logfmt, json]")
	showVersion := fs.Bool("version", false, "Print version information and exit.")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: triaged [flags]\n\nThe first responder for Alertmanager alerts. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "triaged: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.Print("triaged"))
		return 0
	}
	logger := promslog.New(&promslog.Config{Level: level, Format: format, Writer: stderr})
	o.Logger = logger
	o.Stdout = stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Taken before anything starts, so an early SIGHUP cannot kill the process (its default).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	logger.Info("starting triaged", "version", version.Info(), "build_context", version.BuildContext())
	a, err := app.New(ctx, o)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopped by a signal before start-up finished (waiting for NATS, say): as clean a stop as
		// any, and no failure for a supervisor to act on.
		logger.Info("stopped before start-up finished", "reason", err)
		return 0
	}
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	go reloadOnSIGHUP(ctx, hup, a, logger)
	if err := a.Run(ctx); err != nil {
		logger.Error("stopped with errors", "err", err)
		return 1
	}
	logger.Info("stopped cleanly")
	return 0
}

// reloadOnSIGHUP turns each SIGHUP into a reload of the rules and token files; signals that arrive during a reload
// collapse into one more.
func reloadOnSIGHUP(ctx context.Context, hup <-chan os.Signal, a *app.App, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := a.Reload(); err != nil {
				logger.Error("reload on SIGHUP failed; what failed to reload stays as it was", "err", err)
			}
		}
	}
}
