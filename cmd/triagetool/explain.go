package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/load"
	"github.com/triaged/triaged/rules"
)

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

var _ flag.Value = (*stringsFlag)(nil)

// runExplain prints, for each alert of INPUT, every rule tried in order with its outcome, then
// the decision: what a rule author needs to see why an alert got its severity.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", "[--rules FILE]... | [--config.file FILE] [--time RFC3339] [--time-zone NAME] [--facts FILE] [--all] [--output text|json] INPUT", stderr)
	var ruleFiles stringsFlag
	fs.Var(&ruleFiles, "rules", "rule `FILE` (repeatable, in order); the embedded default rules when none")
	cfgFile := fs.String("config.file", "", "triaged configuration `FILE`: its rules, and its service catalog and defaults (environment, service labels) to decide each alert's service and environment as the daemon does")
	at := fs.String("time", "", "evaluation time, RFC 3339 (default: now)")
	zone := fs.String("time-zone", "UTC", "time zone of hour, weekday and business_hours()")
	factsFile := fs.String("facts", "", "JSON `FILE` of enrichment facts {\"changes\": [...], \"probes\": [...], \"logs\": [...], \"metrics\": [...], \"measured_impact\": {...}} for the escalation rules")
	all := fs.Bool("all", false, "also try the rules after the one that decided")
	output := fs.String("output", "text", "`FORMAT`: text, or json (one object per alert, a line each: decided severity, deciding rule, every rule tried)")
	inputs, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	if len(inputs) != 1 {
		fs.Usage()
		return exitUsage
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "triagetool explain: --output: unknown format %q: want text or json\n", *output)
		return exitUsage
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "triagetool explain: "+format+"\n", args...)
		return exitFailure
	}

	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return fail("--time-zone: unknown time zone %q", *zone)
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			return fail("--time: invalid time %q: want RFC 3339, e.g. 2026-11-26T15:10:00Z", *at)
		}
	}
	now = now.In(loc)

	if *cfgFile != "" && len(ruleFiles) > 0 {
		fmt.Fprintln(stderr, "triagetool explain: --rules and --config.file: give one; the config names its own rule files")
		return exitUsage
	}
	// Without a config, the alert's labels name its service and environment, as in a daemon
	// without a service catalog or defaults.
	resolve := triaged.LabelledService
	var rs *rules.RuleSet
	embedded := len(ruleFiles) == 0
	if *cfgFile != "" {
		parts, err := load.File(*cfgFile)
		if err != nil {
			fmt.Fprintln(stderr, "triagetool explain: the config does not load:")
			printErrors(stderr, err, "  ")
			return exitFailure
		}
		rs, resolve = parts.Rules, parts.Catalog.Resolve
		embedded = len(parts.Config.Rules.Files) == 0
	} else if rs, err = rules.LoadFiles(ruleFiles...); err != nil {
		fmt.Fprintln(stderr, "triagetool explain: the rules do not load:")
		printErrors(stderr, err, "  ")
		return exitFailure
	}
	var opts rules.ExplainOptions
	opts.All = *all
	if *factsFile != "" {
		if opts.Enrichment, err = readFacts(*factsFile); err != nil {
			return fail("%v", err)
		}
	}
	data, err := readInput(inputs[0])
	if err != nil {
		return fail("%v", err)
	}
	alerts, err := rules.DecodeAlerts(data)
	if err != nil {
		return fail("%s: %v", inputs[0], err)
	}

	if *output == "json" {
		for i := range alerts {
			if err := writeExplanationJSON(stdout, rs, &alerts[i], resolve(&alerts[i]), i, now, opts); err != nil {
				return fail("%v", err)
			}
		}
		return exitOK
	}
	files := strings.Join(rs.Files(), ", ")
	if embedded {
		files += " (embedded)"
	}
	fmt.Fprintf(stdout, "Rules:     %s, version %s\n", files, rs.Version())
	fmt.Fprintf(stdout, "Evaluated: %s (%s)\n", now.Format(time.RFC3339), now.Format("Monday 15:04 MST"))
	for i := range alerts {
		fmt.Fprintln(stdout)
		printExplanation(stdout, rs, &alerts[i], resolve(&alerts[i]), i, len(alerts), now, opts, *factsFile != "")
	}
	return exitOK
}

// stdin is where INPUT "-" is read from; tests replace it.
var stdin io.Reader = os.Stdin

func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

func readFacts(path string) (triaged.Enrichment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return triaged.Enrichment{}, err
	}
	f, err := rules.DecodeFacts(data)
	if err != nil {
		return f, fmt.Errorf("%s: %w", path, invalidJSON(data, err))
	}
	return f, nil
}

// invalidJSON is the reason INPUT or --facts does not decode, with its line and column.
func invalidJSON(data []byte, err error) error {
	return errors.New("invalid JSON: " + triaged.DescribeJSONError(data, err))
}

func printExplanation(w io.Writer, rs *rules.RuleSet, a *triaged.Alert, svc triaged.Service, i, n int, now time.Time, opts rules.ExplainOptions, haveFacts bool) {
	x := rs.Explain(a, svc, now, opts)
	env := x.Env
	fmt.Fprintf(w, "Alert %d of %d: %s, %s, active for %s\n", i+1, n, orNone(env.AlertName), env.Status, env.ActiveFor)
	fmt.Fprintf(w, "  labels:  %s\n", formatLabels(env.Labels))
	fmt.Fprintf(w, "  seen as: service=%q environment=%q hour=%d weekday=%q business_hours()=%t\n",
		env.Service, env.Environment, env.Hour, env.Weekday, env.BusinessHours())
	printMetricFacts(w, opts.Enrichment)

	var classify, escalate []rules.Trace
	for _, t := range x.Traces {
		if t.Stage == rules.StageClassify {
			classify = append(classify, t)
		} else {
			escalate = append(escalate, t)
		}
	}
	fmt.Fprintln(w, "  classify (first match wins):")
	printTraces(w, classify)
	if len(escalate) > 0 {
		if haveFacts {
			fmt.Fprintln(w, "  escalate (every match applies):")
		} else {
			fmt.Fprintln(w, "  escalate (every match applies; no facts given, see --facts):")
		}
		printTraces(w, escalate)
	}

	final := x.Final
	if final.Dropped {
		fmt.Fprintf(w, "  decision: dropped by rule %s: not triaged, never reported (triaged_alerts_dropped_total)\n", final.Rule)
		return
	}
	fmt.Fprintf(w, "  decision: %s %s (%s, respond %s)\n", final.Severity, final.Severity.Name(), final.Severity.Description(), final.Severity.ResponseTimeText())
	for _, d := range final.Decisions {
		rule := d.Rule
		if rule == "" {
			rule = rules.DefaultRuleName
		}
		fmt.Fprintf(w, "    %-8s  %s -> %s: %s\n", d.Stage, rule, d.Severity, d.Reason)
	}
}

// printTraces prints one line per rule tried, in aligned columns, with a failed rule's error
// (expr's snippet included) below its line.
func printTraces(w io.Writer, traces []rules.Trace) {
	nameWidth, posWidth, notTried := 0, 0, 0
	for _, t := range traces {
		nameWidth = max(nameWidth, len(t.Rule))
		posWidth = max(posWidth, len(t.Pos.String()))
	}
	for _, t := range traces {
		if t.Outcome == rules.NotTried {
			notTried++
			continue
		}
		outcome := t.Outcome.String()
		if t.Outcome == rules.Matched && t.Severity.Valid() {
			outcome += " " + t.Severity.String()
		} else if t.Outcome == rules.Matched {
			outcome += " drop"
		}
		if t.Decided && t.Stage == rules.StageClassify {
			outcome += "  <- decides"
		}
		fmt.Fprintf(w, "    %-*s  %-*s  %s\n", nameWidth, t.Rule, posWidth, t.Pos, outcome)
		if t.Err != nil {
			fmt.Fprintf(w, "      %s\n", strings.ReplaceAll(t.Err.Error(), "\n", "\n      "))
		}
	}
	if notTried > 0 {
		fmt.Fprintf(w, "    (%d more %s not tried; --all tries them)\n", notTried, plural(notTried, "rule", "rules"))
	}
}

func formatLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func orNone(s string) string {
	if s == "" {
		return "(no alertname)"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
