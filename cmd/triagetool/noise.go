package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/common/model"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/noise"
)

// defaultMaxReports bounds the reports one noise run reads: about what the reports stream's
// default 1 GiB holds, read in well under a minute.
const defaultMaxReports = 100000

// noiseRun is what one run read, beside the measures.
type noiseRun struct {
	Stream string `json:"stream"`
	// Read counts the reports read, Undecodable those of them that were not a report.
	Read        int `json:"read"`
	Undecodable int `json:"undecodable"`
	// MaxReports is the bound on reports read; Truncated says it was hit, and the newest
	// reports of the window were not read.
	MaxReports int  `json:"max_reports"`
	Truncated  bool `json:"truncated"`
	// OldestKept is set when the stream holds nothing older than the window's start: the
	// window then starts at the first report it holds.
	OldestKept *time.Time `json:"oldest_kept,omitempty"`
	noise.Result
}

func runNoise(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("noise", "[--since 30d] [--nats.url URL | --storage.path DIR] [--output table|json|csv] [flags]", stderr)
	src := addHistoryFlags(fs, 5*time.Minute)
	sinceText := fs.String("since", "30d", "measure the reports of this `DURATION` before --time (30d, 12h, 2w)")
	endText := fs.String("time", "", "end of the window, `RFC3339` (default: now)")
	output := fs.String("output", "table", "output `FORMAT`: table, json or csv")
	maxReports := fs.Int("max-reports", defaultMaxReports, "read at most `N` reports; the output says when this bound cut the window short")
	top := fs.Int("top", 20, "list the `N` noisiest of each kind (0: all)")
	forceProgress := fs.Bool("progress", false, "show progress on stderr even when it is not a terminal")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "triagetool noise: "+format+"\n", args...)
		fs.Usage()
		return exitUsage
	}
	if len(rest) > 0 {
		return usage("unexpected argument %q", rest[0])
	}
	if err := src.check(); err != nil {
		return usage("%v", err)
	}
	since, err := model.ParseDuration(*sinceText)
	if err != nil || since <= 0 {
		return usage("--since %q: want a positive duration such as 30d, 12h or 2w", *sinceText)
	}
	end := time.Now()
	if *endText != "" {
		if end, err = time.Parse(time.RFC3339, *endText); err != nil {
			return usage("--time %q: want an RFC 3339 time such as 2026-11-30T12:00:00Z", *endText)
		}
	}
	if *output != "table" && *output != "json" && *output != "csv" {
		return usage("--output %q: want table, json or csv", *output)
	}
	if *maxReports <= 0 {
		return usage("--max-reports %d: want a positive number", *maxReports)
	}
	if *top < 0 {
		return usage("--top %d: want 0 (all) or more", *top)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *src.timeout)
	defer cancel()
	js, names, closeSource, err := src.open()
	if err != nil {
		fmt.Fprintf(stderr, "triagetool noise: %v\n", err)
		return exitFailure
	}
	defer closeSource()
	start := end.Add(-time.Duration(since))
	an := noise.New(noise.Options{})
	prog := newProgress(stderr, *forceProgress)
	run, err := readReports(ctx, js, names, start, end, *maxReports, an, prog)
	if err != nil {
		fmt.Fprintf(stderr, "triagetool noise: %v\n", err)
		return exitFailure
	}
	from := start
	if run.OldestKept != nil && run.OldestKept.After(from) && run.OldestKept.Before(end) {
		from = *run.OldestKept
	}
	run.Result = an.Result(from, end)
	switch *output {
	case "json":
		err = writeNoiseJSON(stdout, run, *top)
	case "csv":
		err = writeNoiseCSV(stdout, run, *top)
	default:
		err = writeNoiseTable(stdout, run, *top)
	}
	if err != nil {
		fmt.Fprintf(stderr, "triagetool noise: write the report: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stderr, summaryLine(run))
	return exitOK
}

// readReports feeds an the reports published on the stream from start on and triaged up to end,
// oldest first, at most maxReports of them, through an ordered consumer.
func readReports(ctx context.Context, js jetstream.JetStream, names broker.Names, start, end time.Time, maxReports int, an *noise.Analyzer, prog *progress) (noiseRun, error) {
	run := noiseRun{Stream: names.ReportsStream(), MaxReports: maxReports}
	s, err := js.Stream(ctx, names.ReportsStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return run, fmt.Errorf("no stream %s: is --nats.prefix the daemon's nats.prefix?", names.ReportsStream())
	}
	if err != nil {
		return run, fmt.Errorf("stream %s: %w", names.ReportsStream(), err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return run, fmt.Errorf("stream %s: %w", names.ReportsStream(), err)
	}
	if info.State.Msgs == 0 {
		return run, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{names.ReportSubjects()},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return run, fmt.Errorf("read %s: %w", names.ReportsStream(), err)
	}
	prog.stream = run.Stream
	defer prog.done(&run)
	total, fromFirst := 0, false
	for {
		batch, err := cons.FetchNoWait(min(500, maxReports-run.Read))
		if err != nil {
			return run, fmt.Errorf("read %s: %w", names.ReportsStream(), err)
		}
		got, pending := 0, uint64(0)
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				return run, fmt.Errorf("read %s: %w", names.ReportsStream(), err)
			}
			got++
			run.Read++
			pending = meta.NumPending
			if run.Read == 1 {
				total = run.Read + int(pending)
				fromFirst = meta.Sequence.Stream <= info.State.FirstSeq
			}
			rep, err := triaged.DecodeReport(m.Data())
			if err != nil {
				run.Undecodable++
				continue
			}
			if fromFirst && run.OldestKept == nil {
				// Nothing before the window's start is kept: the history begins here.
				t := rep.TriagedAt.UTC()
				run.OldestKept = &t
			}
			if rep.TriagedAt.Before(start) || rep.TriagedAt.After(end) {
				continue
			}
			an.Add(rep)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return run, fmt.Errorf("read %s: %w", names.ReportsStream(), err)
		}
		prog.update(run.Read, total)
		if got == 0 || pending == 0 {
			return run, nil
		}
		if run.Read >= maxReports {
			run.Truncated = true
			return run, nil
		}
		if err := ctx.Err(); err != nil {
			return run, fmt.Errorf("read %s: stopped after %d reports: %w (raise --timeout)", names.ReportsStream(), run.Read, err)
		}
	}
}

// progress shows on stderr how far reading has got: on a terminal once reading takes more than
// a second, always with --progress.
type progress struct {
	w             io.Writer
	on, force     bool
	began, last   time.Time
	shown         bool
	read, total   int
	printed       int // the count last printed
	stream        string
	terminalStyle bool
}

func newProgress(w io.Writer, force bool) *progress {
	terminal := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			terminal = true
		}
	}
	return &progress{w: w, on: terminal || force, force: force, began: time.Now(), terminalStyle: terminal}
}

func (p *progress) update(read, total int) {
	p.read, p.total = read, total
	if !p.on || !p.force && time.Since(p.began) < time.Second || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.print()
}

func (p *progress) print() {
	line := fmt.Sprintf("reading %s: %d of %d reports", p.stream, p.read, max(p.total, p.read))
	if p.terminalStyle {
		fmt.Fprint(p.w, "\r\033[K"+line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.shown, p.printed = true, p.read
}

// done prints the last count, when progress was shown or is forced.
func (p *progress) done(run *noiseRun) {
	if !p.shown && !p.force {
		return
	}
	if p.read = run.Read; !p.shown || p.printed != p.read {
		p.print()
	}
	if p.terminalStyle {
		fmt.Fprintln(p.w)
	}
}

// summaryLine is the last line on stderr: what was read, and whether the bound cut it short.
func summaryLine(run noiseRun) string {
	line := fmt.Sprintf("triagetool noise: %s of %s from %s, %s to %s; %s, %s, %s ranked",
		count(run.Reports, "report", "reports"), count(run.Incidents, "incident", "incidents"), run.Stream,
		run.From.Format(time.RFC3339), run.To.Format(time.RFC3339), count(len(run.AlertNames), "alertname", "alertnames"),
		count(len(run.Rules), "rule", "rules"), count(len(run.Services), "service", "services"))
	if run.Undecodable > 0 {
		line += fmt.Sprintf("; %s not a report, skipped", count(run.Undecodable, "message was", "messages were"))
	}
	if run.Truncated {
		line += fmt.Sprintf("; stopped at --max-reports %d: the newest reports of the window were not read", run.MaxReports)
	}
	return line
}

// count is n with the noun that fits it: "1 report", "2 reports".
func count(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }

func limit(rows []noise.Row, n int) []noise.Row {
	if n > 0 && len(rows) > n {
		return rows[:n]
	}
	return rows
}
