package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/load"
	"github.com/triaged/triaged/route"
	"github.com/triaged/triaged/rules"
	"github.com/triaged/triaged/triage"
)

// routed is one report and where the config's routes send it: what `triagetool route` prints.
type routed struct {
	// Alert is "N of M: NAME, STATUS" for an alert of a webhook; "" for a report.
	Alert   string            `json:"alert,omitempty"`
	Report  routedReport      `json:"report"`
	Labels  map[string]string `json:"labels"`
	Targets []route.Target    `json:"targets"`
}

// routedReport is what of the report the routes look at.
type routedReport struct {
	ID          string `json:"id,omitempty"`
	Event       string `json:"event"`
	Severity    string `json:"severity"`
	Rule        string `json:"rule,omitempty"`
	AlertName   string `json:"alertname"`
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	Team        string `json:"team,omitempty"`
	Channel     string `json:"channel,omitempty"`
}

// runRoute shows which sinks, and which channels, a report would go to under a config's routes,
// as `amtool config routes test` shows Alertmanager's receivers. A report is taken as it is; a
// captured webhook's alerts each as the report that would open its incident (severity by the
// config's rules without enrichment facts, service from its catalog).
func runRoute(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("route", "[--config.file FILE] (--report FILE | --webhook FILE) [--time RFC3339] [--output text|json]", stderr)
	cfgFile := fs.String("config.file", "", "the triaged configuration `FILE` (default: the built-in defaults)")
	reportFile := fs.String("report", "", "a report's JSON `FILE`, or a file sink's JSON lines (- reads stdin)")
	webhookFile := fs.String("webhook", "", "an Alertmanager webhook payload, a list of alerts or one alert, JSON `FILE` (- reads stdin)")
	at := fs.String("time", "", "evaluation time of the rules for --webhook, RFC 3339 (default: now)")
	output := fs.String("output", "text", "output format: text or json")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	if len(rest) > 0 || (*reportFile == "") == (*webhookFile == "") || *output != "text" && *output != "json" {
		fs.Usage()
		return exitUsage
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "triagetool route: "+format+"\n", args...)
		return exitFailure
	}
	parts, err := load.File(*cfgFile)
	if err != nil {
		fmt.Fprintln(stderr, "triagetool route: the config does not load:")
		printErrors(stderr, err, "  ")
		return exitFailure
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			return fail("--time: invalid time %q: want RFC 3339, e.g. 2026-11-26T15:10:00Z", *at)
		}
	}
	now = now.In(parts.Config.Location())

	var results []routed
	if *reportFile != "" {
		data, err := readInput(*reportFile)
		if err != nil {
			return fail("%v", err)
		}
		reps, err := decodeReports(data)
		if err != nil {
			return fail("%s: %v", *reportFile, err)
		}
		for _, rep := range reps {
			results = append(results, routeReport(parts.Router, rep, ""))
		}
	} else {
		data, err := readInput(*webhookFile)
		if err != nil {
			return fail("%v", err)
		}
		alerts, err := rules.DecodeAlerts(data)
		if err != nil {
			return fail("%s: %v", *webhookFile, err)
		}
		for i := range alerts {
			a := &alerts[i]
			svc := parts.Catalog.Resolve(a)
			cls := parts.Rules.Classify(a, svc, now)
			cls = parts.Rules.Escalate(cls, a, svc, triaged.Enrichment{}, now)
			rep := triage.PreviewReport(a, svc, cls, now)
			results = append(results, routeReport(parts.Router, rep, fmt.Sprintf("%d of %d: %s, %s", i+1, len(alerts), orNone(a.Name()), a.Status)))
		}
	}

	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(results); err != nil {
			return fail("%v", err)
		}
		return exitOK
	}
	printRouteHeader(stdout, parts, *cfgFile)
	for _, r := range results {
		fmt.Fprintln(stdout)
		printRouted(stdout, r)
	}
	return exitOK
}

// decodeReports reads one report, or the JSON lines of a file sink, one report each.
func decodeReports(data []byte) ([]*triaged.Report, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var reps []*triaged.Report
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, invalidJSON(data, err)
		}
		rep, err := triaged.DecodeReport(raw)
		if err != nil {
			return nil, fmt.Errorf("report %d: %w", len(reps)+1, invalidJSON(raw, err))
		}
		if !rep.Severity.Valid() || rep.Event == "" {
			// JSON decoding ignores unknown fields: an alert or a webhook would pass for an
			// empty report.
			return nil, fmt.Errorf("report %d: not a triaged report (it has no severity or no event); for alerts, use --webhook", len(reps)+1)
		}
		reps = append(reps, rep)
	}
	if len(reps) == 0 {
		return nil, errors.New("no report in the input")
	}
	return reps, nil
}

func routeReport(r *route.Router, rep *triaged.Report, alert string) routed {
	ls := route.Labels(rep)
	labels := make(map[string]string, len(ls))
	for k, v := range ls {
		labels[string(k)] = string(v)
	}
	targets := r.Routes(rep)
	if targets == nil {
		targets = []route.Target{}
	}
	return routed{
		Alert: alert,
		Report: routedReport{
			ID: rep.ID, Event: string(rep.Event), Severity: rep.Severity.String(), Rule: rep.Rule, AlertName: rep.AlertName,
			Service: rep.Service, Environment: rep.Environment, Team: rep.Team, Channel: rep.Channel,
		},
		Labels:  labels,
		Targets: targets,
	}
}

func printRouteHeader(w io.Writer, parts *load.Parts, file string) {
	cfg := parts.Config
	if file == "" {
		file = "(built-in defaults)"
	}
	var sinks []string
	for _, s := range parts.Sinks {
		sinks = append(sinks, s.Name()+" ("+s.Type()+")")
	}
	fmt.Fprintf(w, "Config: %s\n", file)
	fmt.Fprintf(w, "Sinks:  %s\n", strings.Join(sinks, ", "))
	if len(cfg.Routes) == 0 {
		fmt.Fprintln(w, "Routes: none: every sink gets every report")
	} else {
		fmt.Fprintf(w, "Routes: %d, the first that matches wins unless it continues\n", len(cfg.Routes))
	}
}

func printRouted(w io.Writer, r routed) {
	rep := r.Report
	if r.Alert != "" {
		fmt.Fprintf(w, "Alert %s\n", r.Alert)
		fmt.Fprintln(w, "  as the report that would open its incident (no enrichment facts):")
	} else {
		fmt.Fprintf(w, "Report %s\n", orNone(rep.ID))
	}
	rule := ""
	if rep.Rule != "" {
		rule = fmt.Sprintf(" (rule %q)", rep.Rule)
	}
	fmt.Fprintf(w, "  %s %s%s, %s, service %s", rep.Event, rep.Severity, rule, orNone(rep.AlertName), orDash(rep.Service))
	if rep.Environment != "" {
		fmt.Fprintf(w, " (%s)", rep.Environment)
	}
	fmt.Fprintf(w, ", team %s, catalog channel %s\n", orDash(rep.Team), orDash(rep.Channel))
	fmt.Fprintf(w, "  matchers see: %s\n", formatMatcherLabels(r.Labels))
	if len(r.Targets) == 0 {
		fmt.Fprintln(w, "  no route matches: the report goes to no sink")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SINK\tCHANNEL\tROUTE")
	for _, t := range r.Targets {
		channel := "-"
		if t.Channel != "" {
			channel = t.Channel + " (" + t.ChannelFrom + ")"
		}
		by := "(no routes)"
		if t.Route >= 0 {
			by = t.RouteName
			if want := fmt.Sprintf("routes[%d]", t.Route); by != want {
				by += " (" + want + ")"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Sink, channel, by)
	}
	_ = tw.Flush()
}

// formatMatcherLabels prints the label set the matchers see, the report's own labels first.
func formatMatcherLabels(ls map[string]string) string {
	own := []string{route.LabelSeverity, route.LabelEvent, route.LabelService, route.LabelEnvironment, route.LabelTeam}
	var rest []string
	for k := range ls {
		if !slices.Contains(own, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	parts := make([]string, 0, len(ls))
	for _, k := range append(own, rest...) {
		parts = append(parts, k+"="+strconv.Quote(ls[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
