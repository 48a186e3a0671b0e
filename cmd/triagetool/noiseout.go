package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/triaged/triaged/noise"
)

// noiseKinds are the three rankings, in the order they are printed.
func noiseKinds(run noiseRun) []struct {
	kind, title string
	rows        []noise.Row
} {
	return []struct {
		kind, title string
		rows        []noise.Row
	}{
		{"alertname", "ALERTNAME", run.AlertNames},
		{"rule", "RULE", run.Rules},
		{"service", "SERVICE", run.Services},
	}
}

// writeNoiseTable prints the three rankings as aligned tables, each suggestion on a line of its
// own in the last column.
func writeNoiseTable(w io.Writer, run noiseRun, top int) error {
	fmt.Fprintf(w, "Noise in %s from %s to %s (%s days): %d reports of %d incidents\n",
		run.Stream, run.From.Format(time.RFC3339), run.To.Format(time.RFC3339), strconv.FormatFloat(run.Days, 'f', -1, 64), run.Reports, run.Incidents)
	if run.OldestKept != nil && run.From.Equal(*run.OldestKept) {
		fmt.Fprintf(w, "The stream holds no report older than %s: the window starts there.\n", run.OldestKept.Format(time.RFC3339))
	}
	if run.Truncated {
		fmt.Fprintf(w, "Stopped at --max-reports %d: the newest reports of the window were not read.\n", run.MaxReports)
	}
	fmt.Fprintln(w, "Score: reports, flaps, auto-resolved (within 5m), twice paged-for-nothing (P1/P2 resolved before its response time) and repeats (within 24h), per day.")
	if run.Incidents == 0 {
		fmt.Fprintln(w, "\nNo incidents were reported in the window.")
		return nil
	}
	for _, k := range noiseKinds(run) {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tSCORE\tINCIDENTS\tREPORTS/DAY\tFLAPS\tAUTO-RESOLVED\tPAGED-FOR-NOTHING\tREPEATS\tSUGGESTIONS\n", k.title)
		for _, r := range limit(k.rows, top) {
			paged := "-"
			if r.Paged > 0 {
				paged = fmt.Sprintf("%d of %d", r.PagedForNothing, r.Paged)
			}
			first := "-"
			if len(r.Suggestions) > 0 {
				first = r.Suggestions[0].String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d (%s)\t%s\t%d\t%s\n", r.Name, num(r.Score), r.Incidents, num(r.ReportsPerDay),
				r.Flaps, r.AutoResolved, percent(r.AutoResolvedShare), paged, r.Repeats, first)
			for _, s := range r.Suggestions[min(1, len(r.Suggestions)):] {
				fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t%s\n", s)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if more := len(k.rows) - len(limit(k.rows, top)); more > 0 {
			fmt.Fprintf(w, "… and %d more (--top 0 lists all)\n", more)
		}
	}
	return nil
}

// writeNoiseJSON writes the run as one JSON document.
func writeNoiseJSON(w io.Writer, run noiseRun, top int) error {
	run.AlertNames, run.Rules, run.Services = limit(run.AlertNames, top), limit(run.Rules, top), limit(run.Services, top)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(run)
}

// writeNoiseCSV writes one row per alertname, rule and service, the kind in the first column,
// the suggestions joined by "; " in the last.
func writeNoiseCSV(w io.Writer, run noiseRun, top int) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"kind", "name", "score", "incidents", "reports", "reports_per_day", "flaps", "auto_resolved", "auto_resolved_share", "paged", "paged_for_nothing", "repeats", "suggestions"})
	for _, k := range noiseKinds(run) {
		for _, r := range limit(k.rows, top) {
			var sugg []string
			for _, s := range r.Suggestions {
				sugg = append(sugg, s.String())
			}
			cw.Write([]string{k.kind, r.Name, num(r.Score), strconv.Itoa(r.Incidents), strconv.Itoa(r.Reports), num(r.ReportsPerDay),
				strconv.Itoa(r.Flaps), strconv.Itoa(r.AutoResolved), num(r.AutoResolvedShare), strconv.Itoa(r.Paged),
				strconv.Itoa(r.PagedForNothing), strconv.Itoa(r.Repeats), strings.Join(sugg, "; ")})
		}
	}
	cw.Flush()
	return cw.Error()
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

func percent(share float64) string { return strconv.FormatFloat(share*100, 'f', 0, 64) + "%" }
