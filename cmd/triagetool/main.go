// Command triagetool is the rule author's and operator's tool for triaged, shaped like promtool:
// it checks rule files, runs their unit tests, explains how the rules decide an alert, shows
// which sinks a report is routed to, records a deploy from a CI job, lists and replays the
// messages triaged gave up on; it ranks the noisiest alerts with what to change about them.
//
//	triagetool check rules FILE...
//	triagetool test rules TESTFILE...
//	triagetool explain [--rules FILE]... [--time RFC3339] [--facts FILE] [--all] INPUT
//	triagetool route [--config.file FILE] (--report FILE | --webhook FILE) [--output json]
//	triagetool deploy record --service NAME [--version V] [--environment ENV] ... [--url URL] [--token-file FILE]
//	triagetool dead-letters list [--nats.url URL]
//	triagetool dead-letters replay [--nats.url URL] ID
//	triagetool noise [--since 30d] [--nats.url URL | --storage.path DIR] [--output table|json|csv]
//	triagetool shadow [--web.url URL] [--output json]
//	triagetool backtest --rules FILE... [--baseline FILE...] [--since 7d] [--nats.url URL | --storage.path DIR]
//
// Exit codes: 0 success, 1 errors or failed tests, 2 wrong usage, 3 lint findings only.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	_ "time/tzdata" // --time-zone and test files' time_zone work on hosts without a zone database
)

// Exit codes, promtool's.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitLint    = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `usage: triagetool COMMAND [ARGS]

Commands:
  check rules FILE...          compile rule files; report errors (exit 1) and lint findings (exit 3)
  check config FILE...         check triaged.yml files and everything they name, as the daemon loads them
  test rules TESTFILE...       run rule unit tests (exit 1 if a case fails)
  explain [flags] INPUT        show how the rules decide the alerts of INPUT (a JSON alert, a list of
                               alerts, or an Alertmanager webhook payload; - reads stdin)
  route [flags]                show which sinks and channels a report (--report) or the alerts of a captured
                               webhook (--webhook) go to under a config's routes (--config.file)
  deploy record [flags]        record a deploy event with triaged (from a CI job; $TRIAGED_URL, $TRIAGED_TOKEN_FILE)
  dead-letters list [flags]    list the messages triaged gave up on, with why (--nats.url: the daemon's NATS)
  dead-letters replay [flags] ID
                               publish dead letter ID again where it came from, then delete it
  noise [flags]                rank alertnames, rules and services by noise in the reports of --since 30d, with
                               suggestions (--nats.url: a running daemon's NATS; --storage.path: a stopped one's)
  shadow [flags]               what a running daemon's shadow rules (rules.shadow_files) disagreed on with
                               the rules in force (--web.url; exit 1 when they disagreed)
  backtest [flags]             replay the daemon's history through candidate rules (--rules): what changes

Run "triagetool COMMAND SUBCOMMAND -h" for the flags of a command.
`

// run is the whole program, testable: arguments in, output and exit code out.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "check":
		return runCheck(rest, stdout, stderr)
	case "test":
		return runTest(rest, stdout, stderr)
	case "explain":
		return runExplain(rest, stdout, stderr)
	case "route":
		return runRoute(rest, stdout, stderr)
	case "deploy":
		return runDeploy(rest, stdout, stderr)
	case "dead-letters":
		return runDeadLetters(rest, stdout, stderr)
	case "noise":
		return runNoise(rest, stdout, stderr)
	case "shadow":
		return runShadow(rest, stdout, stderr)
	case "backtest":
		return runBacktest(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "triagetool: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
}

// runCheck dispatches the check family. Each kind of file is one case: `check config` (the
// daemon's configuration and everything it names) belongs here next to `check rules`.
func runCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "triagetool check: what to check? (rules, config)\n\n%s", usageText)
		return exitUsage
	}
	switch what, rest := args[0], args[1:]; what {
	case "rules":
		return checkRules(rest, stdout, stderr)
	case "config":
		return checkConfig(rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "triagetool check: unknown kind %q\n\n%s", what, usageText)
		return exitUsage
	}
}

func runTest(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rules" {
		fmt.Fprintf(stderr, "triagetool test: only \"test rules\" exists\n\n%s", usageText)
		return exitUsage
	}
	return testRules(args[1:], stdout, stderr)
}

// newFlagSet returns a flag set that reports to stderr and returns errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: triagetool %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags wherever they stand among the positional arguments, as people type them
// (explain payload.json --time ...); after "--" everything is positional.
func parseArgs(fs *flag.FlagSet, args []string) (positional []string, err error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return append(positional, tail...), nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseFiles parses the arguments of a command that takes FILE..., at least one. When ok is
// false the command is over: it exits with code (usage printed, or -h answered).
func parseFiles(fs *flag.FlagSet, args []string) (files []string, code int, ok bool) {
	files, err := parseArgs(fs, args)
	if err != nil {
		return nil, usageExit(err), false
	}
	if len(files) == 0 {
		fs.Usage()
		return nil, exitUsage, false
	}
	return files, exitOK, true
}

// usageExit maps a flag parsing error to an exit code: -h is a success.
func usageExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// printFailed prints the "  FAILED:" block of a file that did not pass: the header, with what
// failed when summary says, every problem of err indented below it, and a blank line. Every
// command that checks files prints its failures so.
func printFailed(w io.Writer, summary string, err error) {
	header := "  FAILED:"
	if summary != "" {
		header += " " + summary
	}
	fmt.Fprintln(w, header)
	printErrors(w, err, "    ")
	fmt.Fprintln(w)
}

// printErrors prints every error of a joined error on its own lines, indented, continuation
// lines (expr's snippets) included. A joined error wrapped with context ("load rule files of
// x.yml: ...") prints the context on a line of its own, above the errors it introduces.
func printErrors(w io.Writer, err error, indent string) {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		fmt.Fprintln(w, indent+strings.ReplaceAll(err.Error(), "\n", "\n"+indent))
		return
	}
	if inner := joined.(error); inner != err {
		if context, ok := strings.CutSuffix(err.Error(), inner.Error()); ok {
			fmt.Fprintln(w, indent+strings.TrimSuffix(context, " "))
			indent += "  "
		}
	}
	for _, e := range joined.Unwrap() {
		printErrors(w, e, indent)
	}
}
