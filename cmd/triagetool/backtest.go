package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/common/model"

	"github.com/triaged/triaged/backtest"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/rules"
)

// runBacktest replays the daemon's history through the rules in force and a candidate and
// prints what would change. Exit 0: nothing changes; 1: something does (CI can require a
// reviewed diff); 2: wrong usage or input (rule files that do not load, no history).
func runBacktest(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backtest", "--rules FILE... [--baseline FILE...] [--since 7d] [--nats.url URL | --storage.path DIR] [--output text|json] [--progress]", stderr)
	var candFiles, baseFiles stringsFlag
	fs.Var(&candFiles, "rules", "candidate rule `FILE` (repeatable, in order)")
	fs.Var(&baseFiles, "baseline", "baseline rule `FILE` (repeatable, in order); default: the built-in rules, when the history says they were in force")
	since := fs.String("since", "7d", "replay the history stored in this `DURATION` up to now (Prometheus form: 7d, 36h, 1w)")
	natsURL := fs.String("nats.url", defaultNATSURL, "`URL` of a running daemon's NATS: its --nats.url, or nats://ADDRESS of its nats.embedded_listen_address")
	prefix := fs.String("nats.prefix", "triaged", "the daemon's nats.prefix")
	storage := fs.String("storage.path", "", "a stopped daemon's storage `DIR` (its --storage.path), read with an embedded NATS instead of --nats.url")
	zone := fs.String("time-zone", "UTC", "time zone of hour, weekday and business_hours(): the daemon's rules.timezone")
	output := fs.String("output", "text", "`FORMAT`: text, or json")
	progress := fs.Bool("progress", false, "show a progress bar on stderr (the default when stderr is a terminal)")
	timeout := fs.Duration("timeout", 10*time.Minute, "time allowed for the whole command")
	examples := fs.Int("examples", backtest.DefaultExamples, "examples kept per alertname and per service")
	maxKeys := fs.Int("max-keys", backtest.DefaultKeys, "alertnames, and services, whose changes are tracked; the changes of others are counted as left out")
	maxIncidents := fs.Int("max-incidents", backtest.DefaultIncidents, "incidents tracked; the records of others are counted as left out")
	listed := fs.Int("incidents-listed", backtest.DefaultListed, "changed incidents listed (all are counted)")
	limit := fs.Int("limit", 0, "replay at most this many records (0: all)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "triagetool backtest: "+format+"\n", args...)
		return exitUsage
	}
	switch {
	case len(rest) > 0:
		return usage("unexpected argument %q", rest[0])
	case len(candFiles) == 0:
		fmt.Fprintln(stderr, "triagetool backtest: --rules: give the candidate rule files")
		fs.Usage()
		return exitUsage
	case *output != "text" && *output != "json":
		return usage("--output: unknown format %q: want text or json", *output)
	case *examples < 1 || *maxKeys < 1 || *maxIncidents < 1 || *listed < 1 || *limit < 0:
		return usage("--examples, --max-keys, --max-incidents and --incidents-listed must be at least 1, --limit at least 0")
	}
	window, err := model.ParseDuration(*since)
	if err != nil || window <= 0 {
		return usage("--since: invalid duration %q: want a Prometheus duration such as 7d, 36h or 1w", *since)
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return usage("--time-zone: unknown time zone %q", *zone)
	}
	cand, code, ok := loadRuleFlag(stderr, "--rules", candFiles)
	if !ok {
		return code
	}
	base := rules.Default()
	if len(baseFiles) > 0 {
		if base, code, ok = loadRuleFlag(stderr, "--baseline", baseFiles); !ok {
			return code
		}
	}

	// Ctrl-C ends the replay and, with it, the embedded server on a stopped daemon's store.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	js, names, closeSource, err := openBacktestSource(ctx, *natsURL, *prefix, *storage)
	if err != nil {
		return usage("%v", err)
	}
	defer closeSource()
	from := time.Now().Add(-time.Duration(window))

	opts := backtest.Options{
		Baseline: base, Candidate: cand, Location: loc, InForce: len(baseFiles) == 0,
		Examples: *examples, Keys: *maxKeys, Incidents: *maxIncidents, Listed: *listed,
	}
	if *progress || isTerminal(stderr) {
		total, err := history.Pending(ctx, js, names, from)
		if err != nil {
			return usage("%v", err)
		}
		if *limit > 0 {
			total = min(total, uint64(*limit))
		}
		bar := newProgressBar(stderr, total)
		defer bar.finish()
		opts.Progress = bar.update
	}
	res, err := backtest.Run(ctx, func(ctx context.Context, fn func(history.Record) error) (history.Stats, error) {
		return history.Read(ctx, js, names, from, *limit, fn)
	}, opts)
	if opts.Progress != nil {
		opts.Progress(-1) // the bar's last line, before anything else is printed
	}
	if vm := (*backtest.VersionMismatchError)(nil); errors.As(err, &vm) {
		return usage("no --baseline, and the built-in rules (version %s) were not the rules in force: %d of %d records were decided by rule set version %s; give the rule files in force then with --baseline",
			vm.Baseline, vm.Records, vm.Of, strings.Join(vm.Versions, ", "))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return usage("the backtest took longer than --timeout %s: %v", *timeout, err)
	}
	if err != nil {
		return usage("%v", err)
	}
	out := backtestOutput{Since: from.UTC().Truncate(time.Second), Window: *since, BuiltinBaseline: len(baseFiles) == 0, Result: res}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return usage("%v", err)
		}
		fmt.Fprintln(stderr, out.summary())
	} else {
		printBacktest(stdout, &out)
	}
	if res.HasChanges() {
		return exitFailure
	}
	return exitOK
}

// backtestOutput is what backtest prints: the result and the window it covers.
type backtestOutput struct {
	Since  time.Time `json:"since"`
	Window string    `json:"window"`
	// BuiltinBaseline: no --baseline, the built-in rules were in force.
	BuiltinBaseline bool `json:"builtin_baseline"`
	*backtest.Result
}

// loadRuleFlag loads the rule files of a flag, printing their errors as check rules does.
func loadRuleFlag(stderr io.Writer, flag string, files []string) (*rules.RuleSet, int, bool) {
	rs, err := rules.LoadFiles(files...)
	if err != nil {
		fmt.Fprintf(stderr, "triagetool backtest: %s: the rules do not load:\n", flag)
		printErrors(stderr, err, "  ")
		return nil, exitUsage, false
	}
	return rs, exitOK, true
}

// openBacktestSource connects to the daemon's NATS at url or, with a storage path, to an
// embedded NATS on a stopped daemon's store, and checks the history stream is there. done ends
// the connection (and the embedded server).
func openBacktestSource(ctx context.Context, url, prefix, storage string) (js jetstream.JetStream, names broker.Names, done func(), err error) {
	if names, err = broker.NewNames(prefix); err != nil {
		return nil, names, nil, fmt.Errorf("--nats.prefix: %w", err)
	}
	var nc *nats.Conn
	where := url
	var cleanups []func()
	done = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	if storage != "" {
		where = "--storage.path " + storage
		// LockStore would create a missing directory: a mistyped path is an error, not an empty
		// history.
		if _, err := os.Stat(filepath.Join(storage, "jetstream")); err != nil {
			return nil, names, nil, fmt.Errorf("--storage.path: %s holds no triaged store (no jetstream directory): %w", storage, err)
		}
		release, err := broker.LockStore(storage)
		if err != nil {
			return nil, names, nil, fmt.Errorf("%w; to backtest a running daemon, give its NATS with --nats.url", err)
		}
		cleanups = append(cleanups, func() { _ = release() })
		logger := slog.New(slog.DiscardHandler)
		ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: storage, Logger: logger})
		if err != nil {
			done()
			return nil, names, nil, err
		}
		cleanups = append(cleanups, func() { ns.Shutdown(); ns.WaitForShutdown() })
		if nc, err = broker.ConnectEmbedded(ns, "", logger); err != nil {
			done()
			return nil, names, nil, err
		}
	} else if nc, err = nats.Connect(url, nats.Name("triagetool backtest"), nats.Timeout(10*time.Second)); err != nil {
		return nil, names, nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	cleanups = append(cleanups, nc.Close)
	if js, err = jetstream.New(nc); err == nil {
		_, err = js.Stream(ctx, names.HistoryStream())
	}
	if err != nil {
		done()
		return nil, names, nil, fmt.Errorf("history stream %s at %s: %w (has the daemon kept a history?)", names.HistoryStream(), where, err)
	}
	return js, names, done, nil
}

// isTerminal says whether w is a terminal, where a progress bar can redraw its line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws records done out of total, and the rate, on one line it redraws.
type progressBar struct {
	w       io.Writer
	total   uint64
	start   time.Time
	shown   int // the last percentage drawn
	done    int
	drawn   bool
	stopped bool
}

func newProgressBar(w io.Writer, total uint64) *progressBar {
	return &progressBar{w: w, total: total, start: time.Now(), shown: -1}
}

// update draws the bar for done records when the percentage moved; -1 draws the last line.
func (p *progressBar) update(done int) {
	if p.stopped {
		return
	}
	last := done < 0
	if last {
		p.stopped = true
		if !p.drawn {
			return
		}
		done = p.done
	}
	p.done = done
	pct := 100
	if p.total > 0 {
		pct = int(min(uint64(done)*100/p.total, 100))
	}
	if pct == p.shown {
		if last {
			fmt.Fprintln(p.w)
		}
		return
	}
	p.shown, p.drawn = pct, true
	rate := float64(done) / max(time.Since(p.start).Seconds(), 1e-3)
	const width = 30
	fill := pct * width / 100
	fmt.Fprintf(p.w, "\rbacktest [%s%s] %3d%% %s/%s records, %s/s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
		pct, thousands(done), thousands(int(p.total)), thousands(int(rate)))
	if last {
		fmt.Fprintln(p.w)
	}
}

// finish ends the bar's line if Run failed before the last update.
func (p *progressBar) finish() { p.update(-1) }
