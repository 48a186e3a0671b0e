// Package app assembles a triaged daemon from its parts: it builds each part in dependency order,
// registers its teardown beside it, serves HTTP, and shuts everything down in reverse order.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/net/netutil"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/config"
	"github.com/triaged/triaged/deploy"
	"github.com/triaged/triaged/enrich"
	"github.com/triaged/triaged/graph"
	"github.com/triaged/triaged/load"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
	"github.com/triaged/triaged/rules"
	"github.com/triaged/triaged/triage"
)

// Options are the process-level settings, set by flags; everything else is in the config file.
type Options struct {
	ConfigFile    string // "" uses config.Default()
	ListenAddress string // host:port of the HTTP API, metrics and health
	WebConfigFile string // exporter-toolkit web config: TLS and basic auth
	StoragePath   string // embedded NATS storage
	NATSURL       string // "" runs the embedded NATS server
	// MaxConnections caps the HTTP connections served at once (0: 512, as Prometheus' default);
	// more wait to be accepted.
	MaxConnections int
	// ShutdownTimeout bounds the whole shutdown; work not finished by then is redelivered.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Stdout          io.Writer // where the stdout sink prints; os.Stdout when nil

	// AuthTokenFiles each hold a bearer token the write endpoints accept (several, for rotation).
	AuthTokenFiles []string
	// AllowUnauthenticated lets a non-loopback ListenAddress serve without any authentication.
	AllowUnauthenticated bool
	// ExternalURL is the URL under which people reach triaged (behind a proxy, say): chat
	// messages link to the full report there. "" means none is known: messages then carry no
	// links to triaged.
	ExternalURL string
	// RoutePrefix is the path every endpoint is served under ("/triaged"), as Prometheus'
	// --web.route-prefix: "/" redirects to it. By default the path of ExternalURL, so that a
	// reverse proxy passes the path on; "/" serves at the root (a proxy that strips the path).
	RoutePrefix string
}

// routePrefixPattern is what a route prefix may hold: the path characters that need no escaping
// anywhere a page, a header or a log line carries it.
var routePrefixPattern = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*/?$`)

func (o *Options) validate() error {
	if o.ListenAddress == "" {
		return errors.New("--web.listen-address: must not be empty")
	}
	if o.NATSURL == "" && o.StoragePath == "" {
		return errors.New("--storage.path: must not be empty when the embedded NATS server is used")
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	from := "" // where the route prefix came from, when not from its flag
	if o.ExternalURL != "" {
		u, err := url.Parse(o.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--web.external-url: %q is not an absolute http(s) URL", o.ExternalURL)
		}
		o.ExternalURL = strings.TrimRight(o.ExternalURL, "/")
		if o.RoutePrefix == "" && u.Path != "" && u.Path != "/" {
			o.RoutePrefix, from = u.Path, " (the path of --web.external-url; --web.route-prefix=/ serves at the root)"
		}
	}
	if o.RoutePrefix != "" {
		p, clean := o.RoutePrefix, path.Clean(o.RoutePrefix)
		if !routePrefixPattern.MatchString(p) || (p != clean && p != clean+"/") {
			return fmt.Errorf("--web.route-prefix: %q%s is not a clean path of letters, digits and -._~ starting with / (such as /triaged)", p, from)
		}
		o.RoutePrefix = strings.TrimRight(clean, "/") // "/" is the root: no prefix
	}
	if o.MaxConnections < 0 {
		return errors.New("--web.max-connections: must not be negative")
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = 512
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	return nil
}

// App is a running triaged.
type App struct {
	opts     Options
	cfg      *config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	names    broker.Names

	nc       *nats.Conn
	js       jetstream.JetStream
	topology *broker.Topology
	healer   *broker.Healer      // recreates what goes missing of the topology; readiness asks it
	dead     *broker.DeadLetters // shared by the triage worker, its timers and every sink
	rules    *rules.Engine
	shadow   *rules.Shadow // rules.shadow_files; nil when there are none
	deploys  *deploy.Index
	worker   *triage.Worker
	enricher *enrich.Enricher
	renderer *notify.Renderer // the report template, for the sinks and the incidents API

	// resolve is the service catalog's, for the rules API to decide services as triage does.
	resolve func(*triaged.Alert) triaged.Service

	auth     *webAuth
	listener net.Listener
	server   *http.Server
	front    frontHandler // the starting handler until New is done, then the routes
	serveErr chan error
	starting atomic.Value // what New waits for, for /-/ready while it waits
	ready    atomic.Bool

	teardown []namedTeardown // in setup order; run in reverse
	runners  []func(context.Context) error
	stopOnce sync.Once
}

type namedTeardown struct {
	name string
	fn   func(context.Context) error
}

func (a *App) onShutdown(name string, fn func(context.Context) error) {
	a.teardown = append(a.teardown, namedTeardown{name, fn})
}

// New builds every part in dependency order. On error, what was built is torn down again. The
// parts the config names come from load.File, as `triagetool check config` checks them, before
// anything starts.
func New(ctx context.Context, o Options) (_ *App, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	a := &App{opts: o, log: o.Logger, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.shutdown(context.Background())
		}
	}()

	if a.auth, err = newWebAuth(o, a.registry, a.log); err != nil {
		return nil, err
	}
	parts, err := load.File(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	a.cfg = parts.Config
	a.renderer = parts.Renderer
	a.resolve = parts.Catalog.Resolve
	a.names, err = broker.NewNames(a.cfg.NATS.Prefix)
	if err != nil {
		return nil, err
	}
	a.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("triaged"),
	)

	// Served first, so health and readiness answer while NATS is waited for.
	if err := a.setupHTTP(); err != nil {
		return nil, err
	}
	if err := a.connectNATS(); err != nil {
		return nil, err
	}
	a.registerNATSMetrics()
	a.js, err = jetstream.New(a.nc)
	if err != nil {
		return nil, fmt.Errorf("JetStream context: %w", err)
	}
	if err := a.waitForNATS(ctx); err != nil {
		return nil, err
	}
	if err := a.checkReportBudget(); err != nil { // the server's max payload is known once connected
		return nil, err
	}
	topo := a.topologyOptions()
	a.setupHealer()
	a.dead = broker.NewDeadLetters(a.js, a.names, a.cfg.Triage.MaxDeliveries, a.registry, a.log)

	enr := a.cfg.Enrichment
	a.deploys = deploy.NewIndex(a.js, a.names, deploy.IndexOptions{
		MaxAge: enr.DeploysMaxAge.Std(), MaxPerService: enr.DeploysMaxPerService, MaxServices: enr.DeploysMaxServices,
		MaxEvents: enr.DeploysMaxEvents, MaxClockSkew: enr.DeploysMaxClockSkew.Std(),
		Logger: a.log.With("component", "deploy"), Registerer: a.registry,
	})
	a.runners = append(a.runners, a.deploys.Run)

	a.rules, err = rules.NewEngine(a.cfg.Rules.Files, rules.EngineOptions{
		Registerer: a.registry, Logger: a.log, Location: a.cfg.Location(), Rules: parts.Rules,
	})
	if err != nil {
		return nil, err
	}

	classifier, escalator, err := a.setupShadow(parts)
	if err != nil {
		return nil, err
	}

	if err := a.setupSinks(ctx, topo, parts); err != nil {
		return nil, err
	}

	prom, err := prometheusServers(a.cfg)
	if err != nil {
		return nil, err
	}
	a.enricher = enrich.New(enrich.Options{
		Catalog:        parts.Catalog,
		Deploys:        a.deploys,
		Runbooks:       parts.Runbooks,
		Redactor:       parts.Redactor,
		Timeout:        enr.Timeout.Std(),
		Grace:          enr.Grace.Std(),
		MaxConcurrency: enr.MaxConcurrency,
		DeployWindow:   enr.DeployWindow.Std(),
		SuspectWindow:  enr.SuspectWindow.Std(),
		Logger:         a.log,
		Registerer:     a.registry,
		Prometheus:     prom,
		RenderGraph:    graph.Render,
	})

	hist, err := a.setupHistory()
	if err != nil {
		return nil, err
	}
	a.worker, err = triage.New(triage.Options{
		JetStream:     a.js,
		Names:         a.names,
		Incidents:     a.topology.Incidents,
		Timers:        a.topology.Timers,
		Resolver:      parts.Catalog,
		Classifier:    classifier,
		Escalator:     escalator,
		Enricher:      a.enricher,
		Graphs:        broker.NewGraphStore(a.topology.Graphs),
		HandleTimeout: a.cfg.Triage.Timeout.Std(),
		RetryBackoff:  a.cfg.RetryBackoff(),
		DeadLetters:   a.dead,
		Policy: triage.Policy{
			GroupBy:        a.cfg.Incidents.GroupBy,
			ReopenWindow:   a.cfg.Incidents.ReopenWindow.Std(),
			ResolveHold:    a.cfg.Incidents.ResolveHold.Std(),
			UpdateInterval: a.cfg.Incidents.UpdateInterval.Std(),
			FlapThreshold:  a.cfg.Incidents.FlapThreshold,
			FlapWindow:     a.cfg.Incidents.FlapWindow.Std(),
			FlapStable:     a.cfg.Incidents.FlapStable.Std(),
		},
		Escalation: escalationPaths(a.cfg.Report.Escalation),
		Logger:     a.log,
		Registerer: a.registry,

		ReportMaxBytes: a.cfg.Report.MaxBytes,
		Heartbeat:      triage.Heartbeat{Matchers: a.cfg.HeartbeatMatchers(), Interval: a.cfg.Heartbeat.Interval.Std()},
		History:        hist,
	})
	if err != nil {
		return nil, err
	}
	a.runners = append(a.runners,
		func(ctx context.Context) error {
			return a.worker.Run(ctx, a.topology.Triage, a.cfg.Triage.Workers, time.Duration(a.cfg.Triage.AckWait))
		},
		a.rules.Watch, // rule files edited on disk are reloaded like on SIGHUP
	)

	handler, err := a.routes()
	if err != nil {
		return nil, err
	}
	a.front.set(handler)
	return a, nil
}

// escalationPaths reads the config's escalation paths, whose keys it validated.
func escalationPaths(byName map[string][]string) map[triaged.Severity][]string {
	out := make(map[triaged.Severity][]string, len(byName))
	for name, path := range byName {
		if sev, err := triaged.ParseSeverity(name); err == nil {
			out[sev] = path
		}
	}
	return out
}

func (a *App) topologyOptions() broker.TopologyOptions {
	o := broker.TopologyOptions{
		Replicas:          a.cfg.NATS.Replicas,
		DuplicateWindow:   time.Duration(a.cfg.NATS.DuplicateWindow),
		AlertsMaxAge:      time.Duration(a.cfg.NATS.AlertsMaxAge),
		ReportsMaxAge:     time.Duration(a.cfg.NATS.ReportsMaxAge),
		IncidentsMaxAge:   time.Duration(a.cfg.NATS.IncidentsMaxAge),
		DeadLettersMaxAge: time.Duration(a.cfg.NATS.DeadLettersMaxAge),
		MaxDeliveries:     a.cfg.Triage.MaxDeliveries,
		SinkMaxDeliveries: outbox.MaxDeliveries,
		AckWait:           time.Duration(a.cfg.Triage.AckWait),
		MaxAckPending:     a.cfg.Triage.MaxAckPending,
	}
	n := a.cfg.NATS
	o.AlertsMaxBytes, o.ReportsMaxBytes, o.DeadLettersMaxBytes, o.IncidentsMaxBytes = n.AlertsMaxBytes, n.ReportsMaxBytes, n.DeadLettersMaxBytes, n.IncidentsMaxBytes
	o.DeliveriesMaxBytes = n.DeliveriesMaxBytes
	o.GraphsMaxBytes, o.GraphsMaxAge = n.GraphsMaxBytes, n.GraphsMaxAge.Std()
	o.HistoryMaxAge, o.HistoryMaxBytes = n.HistoryMaxAge.Std(), n.HistoryMaxBytes
	return o
}

// setupSinks opens the checked sinks, each with its teardown beside it, and gives each a durable
// consumer and a deliverer.
func (a *App) setupSinks(ctx context.Context, topo broker.TopologyOptions, parts *load.Parts) error {
	metrics := outbox.NewMetrics(a.registry)
	env := notify.SinkEnv{Stdout: a.opts.Stdout, Renderer: parts.Renderer, ExternalURL: a.opts.ExternalURL, Logger: a.log,
		ChannelMetrics: notify.NewChannelMetrics(a.registry)}
	for _, plan := range parts.Sinks {
		sink, closeSink, err := plan.Open(env)
		if err != nil {
			return err
		}
		a.onShutdown(plan.Type()+" sink "+plan.Name(), func(context.Context) error { return closeSink() })
		c, err := broker.EnsureSinkConsumer(ctx, a.js, a.names, plan.Name(), plan.Concurrency(), topo)
		if err != nil {
			return err
		}
		d := outbox.NewDeliverer(sink, metrics, outbox.Options{
			Deliveries: a.topology.Deliveries, Concurrency: plan.Concurrency(), Route: parts.Router.Func(plan.Name()),
			RetryBackoff: a.cfg.RetryBackoff(), DeadLetters: a.dead.WithBound(outbox.MaxDeliveries), Logger: a.log,
		})
		a.runners = append(a.runners, func(ctx context.Context) error { return d.Run(ctx, c) })
	}
	return nil
}

func (a *App) setupHTTP() error {
	ln, err := net.Listen("tcp", a.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("--web.listen-address %q: %w", a.opts.ListenAddress, err)
	}
	// A connection cap, and timeouts on both directions: a client that connects and then sends
	// or reads nothing must not hold a connection, a goroutine and its buffers forever.
	a.listener = netutil.LimitListener(ln, a.opts.MaxConnections)
	a.front.set(a.startingHandler())
	a.server = &http.Server{
		Handler:           underPrefix(a.opts.RoutePrefix, &a.front),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.onShutdown("HTTP server", a.server.Shutdown)
	webFlags := &web.FlagConfig{WebListenAddresses: &[]string{a.opts.ListenAddress}, WebConfigFile: &a.opts.WebConfigFile}
	a.serveErr = make(chan error, 1)
	go func() { a.serveErr <- web.Serve(a.listener, a.server, webFlags, a.log) }()
	return nil
}

// Addr is the address the HTTP server listens on (useful with port 0).
func (a *App) Addr() net.Addr { return a.listener.Addr() }

// RoutePrefix is the path every endpoint is served under ("" for the root; --web.route-prefix).
func (a *App) RoutePrefix() string { return a.opts.RoutePrefix }

// Registry is the metrics registry, for tests and embedding.
func (a *App) Registry() *prometheus.Registry { return a.registry }

// Config is the loaded configuration.
func (a *App) Config() *config.Config { return a.cfg }

// Run serves until ctx is done, then shuts down in order: not ready, no new webhooks, in-flight
// triage finished, NATS drained. It returns the errors of every part that failed, named.
func (a *App) Run(ctx context.Context) error {
	runCtx, stopRunners := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errs := make(chan error, len(a.runners)+1)
	for _, r := range a.runners {
		wg.Go(func() {
			if err := r(runCtx); err != nil {
				errs <- err
			}
		})
	}
	a.ready.Store(true)
	a.log.Info("triaged ready", "listen", a.Addr().String(), "route_prefix", cmp.Or(a.opts.RoutePrefix, "/"), "workers", a.cfg.Triage.Workers, "rules", a.rules.Current().Version())

	var failure error
	select {
	case <-ctx.Done():
	case err := <-a.serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			failure = fmt.Errorf("HTTP server: %w", err)
		}
	case err := <-errs:
		failure = err
	}
	a.log.Info("shutting down")
	a.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), a.opts.ShutdownTimeout)
	defer cancel()
	var all []error
	if failure != nil {
		all = append(all, failure)
	}
	if err := a.server.Shutdown(sctx); err != nil {
		all = append(all, fmt.Errorf("HTTP server: %w", err))
	}
	stopRunners()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		all = append(all, errors.New("workers did not finish in time; their messages will be redelivered"))
	}
	close(errs)
	for err := range errs {
		all = append(all, err)
	}
	if err := a.shutdown(sctx); err != nil {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (a *App) shutdown(ctx context.Context) error {
	var errs []error
	a.stopOnce.Do(func() {
		for _, t := range slices.Backward(a.teardown) {
			if err := t.fn(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, fmt.Errorf("stop %s: %w", t.name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Reload re-reads the rule files, the shadow rule files and the bearer token files, and builds
// the Prometheus clients anew. Each is swapped whole or not at all: a failed reload keeps what
// was in force.
func (a *App) Reload() error {
	return errors.Join(a.rules.Reload(), a.reloadShadow(), a.auth.reload(), a.reloadPrometheus())
}

// Ready reports whether triaged can take webhooks now: NATS connected, and every stream,
// consumer and bucket there (what is missing is named, and being recreated).
func (a *App) Ready(ctx context.Context) error {
	if !a.ready.Load() {
		return errors.New("starting or shutting down")
	}
	if !a.nc.IsConnected() {
		return fmt.Errorf("NATS not connected (%s)", a.nc.Status())
	}
	if !a.deploys.Ready() {
		return errors.New("the deploy index is still loading the deploys stream")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return a.healer.Check(ctx)
}

// Conn is the NATS connection, for tools that watch the streams of a running app.
func (a *App) Conn() *nats.Conn { return a.nc }
