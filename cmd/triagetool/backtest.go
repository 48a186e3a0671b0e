package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/common/model"

	"github.com/triaged/triaged/backtest"
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
	src := addHistoryFlags(fs, 10*time.Minute)
	zone := fs.String("time-zone", "UTC", "time zone of hour, weekday and business_hours(): the daemon's rules.timezone")
	output := fs.String("output", "text", "`FORMAT`: text, or json")
	progress := fs.Bool("progress", false, "show a progress bar on stderr (the default when stderr is a terminal)")
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
	if err := src.check(); err != nil {
		return usage("%v", err)
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
	ctx, cancel := context.WithTimeout(ctx, *src.timeout)
	defer cancel()
	js, names, closeSource, err := src.open()
	if err != nil {
		return usage("%v", err)
	}
	defer closeSource()
	if _, err := js.Stream(ctx, names.HistoryStream()); err != nil {
		return usage("history stream %s: %v (has the daemon kept a history? nats.history_max_age 0s turns it off)", names.HistoryStream(), err)
	}
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
		return usage("the backtest took longer than --timeout %s: %v", *src.timeout, err)
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
