package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/rules"
)

// shadowMaxReply bounds the reply read: the most disagreements a daemon keeps, with their
// labels at their bounds, fit in it.
const shadowMaxReply = 256 << 20

// runShadow prints what a running daemon's shadow rules disagreed on with the rules in force:
// the transitions counted and the latest disagreements. It exits 1 when there are any, so that
// a person or a CI job sees it, 0 when there are none, 2 when it could not tell.
func runShadow(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("shadow", "[--web.url URL] [--limit N] [--output text|json]", stderr)
	server := fs.String("web.url", "", "base `URL` of triaged (default $TRIAGED_URL, else "+defaultURL+"); user:password@ in it for basic auth")
	limit := fs.Int("limit", 20, "the latest `N` disagreements to show (0: all the daemon keeps)")
	output := fs.String("output", "text", "output format: text or json")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for the request")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "triagetool shadow: "+format+"\n", args...)
		return exitUsage
	}
	switch {
	case len(rest) > 0:
		return fail("unexpected argument %q", rest[0])
	case *limit < 0:
		return fail("--limit: %d is negative: want the number of disagreements to show, 0 for all", *limit)
	case *output != "text" && *output != "json":
		return fail("--output: %q is not a format: want text or json", *output)
	}
	endpoint := shadowURL(*server, *limit)
	st, err := fetchShadow(endpoint, *timeout)
	if err != nil {
		return fail("%v", err)
	}
	if *output == "json" {
		out, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return fail("encode: %v", err)
		}
		fmt.Fprintf(stdout, "%s\n", out)
	} else {
		printShadow(stdout, &st.ShadowStatus)
	}
	if st.Disagreements > 0 {
		return exitFailure
	}
	return exitOK
}

func shadowURL(base string, limit int) string {
	if base == "" {
		base = os.Getenv("TRIAGED_URL")
	}
	if base == "" {
		base = defaultURL
	}
	u := strings.TrimSuffix(base, "/") + "/api/v1/rules/shadow"
	if limit > 0 {
		u += fmt.Sprintf("?limit=%d", limit)
	}
	return u
}

func fetchShadow(endpoint string, timeout time.Duration) (*api.ShadowResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "triagetool")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, shadowMaxReply))
	if err != nil {
		return nil, fmt.Errorf("read the reply of %s: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error, _, _ = strings.Cut(strings.TrimSpace(string(data)), "\n")
		}
		return nil, fmt.Errorf("triaged answered %d %s: %s", resp.StatusCode, http.StatusText(resp.StatusCode), e.Error)
	}
	var st api.ShadowResponse
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decode the reply of %s: %w", endpoint, err)
	}
	return &st, nil
}

func printShadow(w io.Writer, st *rules.ShadowStatus) {
	fmt.Fprintf(w, "Shadow rules %s, compared since %s\n", st.Version, st.Since.UTC().Format(time.RFC3339))
	for _, f := range st.Files {
		fmt.Fprintf(w, "  %s\n", f)
	}
	fmt.Fprintf(w, "%d alerts classified and %d incidents escalated by both; %d disagreements\n",
		st.Evaluations[rules.StageClassify], st.Evaluations[rules.StageEscalate], st.Disagreements)
	if st.Disagreements == 0 {
		fmt.Fprintln(w, "\nThe shadow rules agree with the rules in force.")
		return
	}
	fmt.Fprintln(w, "\nIn force → shadow:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  FROM\tTO\tALERTS")
	for _, t := range st.Transitions {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", t.From, t.To, t.Count)
	}
	_ = tw.Flush()
	if len(st.Latest) == 0 {
		return
	}
	fmt.Fprintf(w, "\nLatest %d disagreements, newest first (this replica keeps %d):\n", len(st.Latest), st.Kept)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TIME\tSTAGE\tALERTNAME\tSERVICE\tIN FORCE\tSHADOW\tFINGERPRINT")
	for _, d := range st.Latest {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Time.UTC().Format(time.RFC3339), d.Stage,
			printable(d.AlertName), printable(d.Service), side(d.InForce), side(d.Shadow), d.Fingerprint)
	}
	_ = tw.Flush()
}

// side is "P3 (rule)", or "P3" when no rule decided (no escalation rule matched).
func side(s rules.ShadowSide) string {
	if s.Rule == "" {
		return s.Severity
	}
	return fmt.Sprintf("%s (%s)", s.Severity, printable(s.Rule))
}

// printable keeps a label value that came with an alert from breaking the table or the
// terminal: control characters and tabs print as Go escapes.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) }) < 0 {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}
