package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/triaged/triaged/backtest"
)

// printBacktest prints a backtest's result as tables: the rule sets, the transition matrices,
// the changes per alertname and per service with their examples, the incidents, what the bounds
// left out, and the summary line last.
func printBacktest(out io.Writer, o *backtestOutput) {
	// Tables whose last column is empty in a row would end it in spaces: trimmed at the end.
	var buf bytes.Buffer
	w := &buf
	defer func() {
		for line := range strings.Lines(buf.String()) {
			fmt.Fprintln(out, strings.TrimRight(line, " \n"))
		}
	}()
	r := o.Result
	base := strings.Join(r.Baseline.Files, ", ")
	if o.BuiltinBaseline {
		base += " (embedded: the rules in force)"
	}
	fmt.Fprintf(w, "Baseline:  %s, version %s\n", base, r.Baseline.Version)
	fmt.Fprintf(w, "Candidate: %s, version %s\n", strings.Join(r.Candidate.Files, ", "), r.Candidate.Version)
	fmt.Fprintf(w, "History:   since %s (%s): %s alerts, %s incident openings", o.Since.Format(time.RFC3339), o.Window, thousands(r.Alerts), thousands(r.Openings))
	if r.OpeningsWithoutEvidence > 0 {
		fmt.Fprintf(w, " (%s more without stored evidence, not escalated)", thousands(r.OpeningsWithoutEvidence))
	}
	fmt.Fprintln(w)
	if r.Undecodable > 0 || r.UnknownKinds > 0 {
		fmt.Fprintf(w, "Skipped:   %d undecodable records, %d of an unknown kind\n", r.Undecodable, r.UnknownKinds)
	}
	if r.Truncated {
		fmt.Fprintln(w, "Truncated: --limit reached, records were left")
	}

	if r.Alerts > 0 {
		fmt.Fprintln(w, "\nSeverity of the alerts (classification), baseline in rows, candidate in columns:")
		printMatrix(w, r.Classification)
	}
	if r.Openings > 0 {
		fmt.Fprintln(w, "\nSeverity of the incident openings (classification and escalation over the stored evidence):")
		printMatrix(w, r.Escalation)
	}
	printKeys(w, "alertname", r.Alertnames, r.LeftOut.Alertnames)
	printKeys(w, "service", r.Services, r.LeftOut.Services)
	printIncidents(w, r)
	fmt.Fprintln(w)
	fmt.Fprintln(w, o.summary())
}

var matrixOrder = []string{"P1", "P2", "P3", "P4", backtest.Dropped}

// printMatrix prints a transition matrix, "." for an empty cell.
func printMatrix(w io.Writer, cells []backtest.Transition) {
	count := map[[2]string]int{}
	for _, c := range cells {
		count[[2]string{c.From, c.To}] = c.Count
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t\n", strings.Join(matrixOrder, "\t"))
	for _, from := range matrixOrder {
		fmt.Fprintf(tw, "  %s\t", from)
		for _, to := range matrixOrder {
			if n := count[[2]string{from, to}]; n > 0 {
				fmt.Fprintf(tw, "%s\t", thousands(n))
			} else {
				fmt.Fprint(tw, ".\t")
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	var moves []string
	for _, c := range cells {
		if c.From != c.To {
			moves = append(moves, c.String())
		}
	}
	if len(moves) > 0 {
		fmt.Fprintf(w, "  changes: %s\n", strings.Join(moves, ", "))
	}
}

// printKeys prints the changes of each alertname or service: counts, which rule now decides,
// and the examples.
func printKeys(w io.Writer, what string, keys []backtest.KeyChanges, leftOut int) {
	if len(keys) == 0 {
		return
	}
	fmt.Fprintf(w, "\nChanges by %s:\n", what)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\tSEVERITY CHANGED\tOTHER RULE, SAME SEVERITY\tTRANSITIONS\n", strings.ToUpper(what))
	for _, k := range keys {
		var moves []string
		for _, t := range k.Transitions {
			moves = append(moves, t.String())
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", quoteEmpty(k.Name), thousands(k.Changed), thousands(k.RuleChanged), strings.Join(moves, ", "))
	}
	tw.Flush()
	if leftOut > 0 {
		fmt.Fprintf(w, "  and %s changed records of further %ss, not tracked (--max-keys)\n", thousands(leftOut), what)
	}
	for _, k := range keys {
		fmt.Fprintf(w, "\n  %s %s:\n", what, quoteEmpty(k.Name))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "    DECIDED BY\tNOW DECIDED BY\tRECORDS")
		for _, rc := range k.Rules {
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", rc.Before, rc.After, thousands(rc.Count))
		}
		fmt.Fprintln(tw, "    TIME\tSTAGE\tFINGERPRINT\tCHANGE\tRULE\tLABELS")
		for _, e := range k.Examples {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s→%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Stage, e.Fingerprint, e.From, e.To,
				ruleChange(e.RuleBefore, e.RuleAfter), e.Labels)
		}
		tw.Flush()
	}
}

func ruleChange(before, after string) string {
	if before == after {
		return before
	}
	return before + " → " + after
}

// quoteEmpty shows an empty alertname or service as "".
func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func printIncidents(w io.Writer, r *backtest.Result) {
	inc := r.Incidents
	fmt.Fprintf(w, "\nIncidents: %s of %s change their highest severity; P1/P2 pages: %s added, %s removed\n",
		thousands(inc.Changed), thousands(inc.Tracked), thousands(inc.PagesAdded), thousands(inc.PagesRemoved))
	if r.LeftOut.Incidents > 0 {
		fmt.Fprintf(w, "  %s records of further incidents not tracked (--max-incidents)\n", thousands(r.LeftOut.Incidents))
	}
	if len(inc.List) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  GROUP\tALERTNAME\tSERVICE\tBASELINE\tCANDIDATE\tPAGE")
	for _, ic := range inc.List {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", ic.Group, quoteEmpty(ic.Alertname), ic.Service, ic.From, ic.To, ic.Page)
	}
	tw.Flush()
	if r.LeftOut.Listed > 0 {
		fmt.Fprintf(w, "  and %s more (--incidents-listed)\n", thousands(r.LeftOut.Listed))
	}
}

// summary is the last line: what was replayed, and what changes.
func (o *backtestOutput) summary() string {
	r := o.Result
	var b strings.Builder
	fmt.Fprintf(&b, "backtested %s alerts", thousands(r.Alerts))
	if r.Openings > 0 {
		fmt.Fprintf(&b, " and %s incident openings", thousands(r.Openings))
	}
	if r.Alerts+r.Openings > 0 {
		fmt.Fprintf(&b, " from %s to %s", r.First.UTC().Format(time.DateOnly), r.Last.UTC().Format(time.DateOnly))
	}
	if !r.HasChanges() {
		b.WriteString(": nothing changes")
		return b.String()
	}
	fmt.Fprintf(&b, ": %s change severity", thousands(r.Changed))
	if r.RuleChanged > 0 {
		fmt.Fprintf(&b, ", %s another rule at the same severity", thousands(r.RuleChanged))
	}
	fmt.Fprintf(&b, ", %s P1/P2 pages added, %s removed", thousands(r.Incidents.PagesAdded), thousands(r.Incidents.PagesRemoved))
	return b.String()
}

// thousands writes n with thousands separators: 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
