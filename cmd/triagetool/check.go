package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/triaged/triaged/load"
	"github.com/triaged/triaged/rules"
)

// checkRules compiles each rule file on its own, as promtool does: "Checking FILE", then
// "  SUCCESS: N rules found" on stdout, or "  FAILED:" and every error on stderr. Lint findings
// print as "  WARNING: ..." on stderr and, with --lint-fatal (the default), make the exit code 3
// when there is no error, so CI notices them; --lint-fatal=false reports them and exits 0.
func checkRules(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check rules", "[--lint-fatal=false] FILE...", stderr)
	lintFatal := fs.Bool("lint-fatal", true, "exit 3 when lint finds problems (duplicate names, rules that never match, no default)")
	files, code, ok := parseFiles(fs, args)
	if !ok {
		return code
	}

	failed, linted := false, false
	for _, file := range files {
		fmt.Fprintf(stdout, "Checking %s\n", file)
		rs, err := rules.LoadFiles(file)
		if err != nil {
			failed = true
			printFailed(stderr, "", err)
			continue
		}
		linted = reportRuleSet(stdout, stderr, rs, "") || linted
		fmt.Fprintln(stdout)
	}
	return checkExit(failed, linted, *lintFatal)
}

// checkConfig checks daemon configuration files through the daemon's own load path (package
// load): the YAML, then every part it names (rule files, runbook directories, the service
// catalog, redaction patterns, the report template, sinks, routes), all problems in one pass, so a config
// that passes here starts. Sinks are checked, not opened: the check creates no report file.
func checkConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check config", "[--lint-fatal=false] FILE...", stderr)
	lintFatal := fs.Bool("lint-fatal", true, "exit 3 when lint finds problems in the rule files or the routes")
	files, code, ok := parseFiles(fs, args)
	if !ok {
		return code
	}
	failed, linted := false, false
	for _, file := range files {
		fmt.Fprintf(stdout, "Checking %s\n", file)
		parts, err := load.File(file)
		if err != nil {
			failed = true
			printFailed(stderr, "", err)
			continue
		}
		cfg := parts.Config
		fmt.Fprintf(stdout, "  SUCCESS: %s is a valid triaged configuration\n", file)
		if len(cfg.Rules.Files) == 0 {
			fmt.Fprintln(stdout, "  rules: the built-in default rules")
		} else {
			fmt.Fprintf(stdout, "  Checking rule files %s\n", strings.Join(cfg.Rules.Files, ", "))
			linted = reportRuleSet(stdout, stderr, parts.Rules, ", version "+parts.Rules.Version()) || linted
			linted = checkMetricNames(stderr, parts.Rules, cfg) || linted
		}
		if len(cfg.Routes) > 0 {
			fmt.Fprintf(stdout, "  SUCCESS: %d routes to %d sinks\n", len(cfg.Routes), len(cfg.Sinks))
		}
		for _, w := range parts.Warnings {
			linted = true
			fmt.Fprintf(stderr, "  WARNING: %s\n", w)
		}
		if cfg.Report.Template != "" {
			fmt.Fprintf(stdout, "  Checking report template %s\n", cfg.Report.Template)
			fmt.Fprintln(stdout, "  SUCCESS: the template renders the sample reports")
		}
		fmt.Fprintln(stdout)
	}
	return checkExit(failed, linted, *lintFatal)
}

// reportRuleSet prints a loaded rule set's SUCCESS line and its lint warnings, and says whether
// there were any.
func reportRuleSet(stdout, stderr io.Writer, rs *rules.RuleSet, suffix string) (linted bool) {
	classify, escalate := len(rs.Rules(rules.StageClassify)), len(rs.Rules(rules.StageEscalate))
	fmt.Fprintf(stdout, "  SUCCESS: %d rules found (%d classification, %d escalation)%s\n", classify+escalate, classify, escalate, suffix)
	for _, w := range rs.Warnings() {
		linted = true
		fmt.Fprintf(stderr, "  WARNING: %s\n", w)
	}
	return linted
}

// checkExit is promtool's exit code: 1 for errors, 3 for lint findings when they are fatal.
func checkExit(failed, linted, lintFatal bool) int {
	switch {
	case failed:
		return exitFailure
	case linted && lintFatal:
		return exitLint
	default:
		return exitOK
	}
}
