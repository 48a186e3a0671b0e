package notify

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/triaged/triaged"
)

// defaultTemplateName names the embedded template in error messages and in {{template}} calls.
const defaultTemplateName = "report.md.tmpl"

//go:embed templates/report.md.tmpl
var defaultTemplate string

// Renderer turns a report into the Markdown incident report. It is safe for concurrent use.
type Renderer struct {
	tmpl *template.Template
	root string // the template executed for a report
}

// NewRenderer loads the report template. templateFile "" means the embedded default
// (templates/report.md.tmpl). A user file is parsed on top of the default, so it can either be a
// whole report of its own or contain only {{define}}s that replace some of the default's blocks
// ("header", "summary", "impact", "recent_changes", "observations", "response_team", "runbook",
// "severity_decision", "alerts", "links", "footer").
//
// Every value a template prints is escaped for Markdown unless a function that builds Markdown
// produced it (md, code, labels, link, codeBlock, checkbox), so a user template is as safe against
// hostile alert labels as the default. The template is also executed against sample reports
// here, so a typo such as {{.Servce}} or an unguarded {{.Runbook.Title}} fails at load or
// reload, not while an incident is being reported.
func NewRenderer(templateFile string) (*Renderer, error) {
	t := template.New(defaultTemplateName).Funcs(funcMap())
	if _, err := t.Parse(defaultTemplate); err != nil {
		return nil, fmt.Errorf("parse embedded report template: %w", err)
	}
	r := &Renderer{tmpl: t, root: defaultTemplateName}
	if templateFile != "" {
		text, err := os.ReadFile(templateFile)
		if err != nil {
			return nil, fmt.Errorf("load report template: %w", err)
		}
		// Named by its path, so text/template's errors read "template: PATH:LINE: ...".
		u, err := t.New(templateFile).Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("load report template: %w", err)
		}
		if u.Tree != nil && !parse.IsEmptyTree(u.Tree.Root) {
			r.root = templateFile
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			escapeActions(tt.Tree.Root)
		}
	}
	for _, rep := range sampleReports() {
		if err := r.tmpl.ExecuteTemplate(io.Discard, r.root, rep); err != nil {
			return nil, fmt.Errorf("load report template: try on a sample report: %w", err)
		}
	}
	return r, nil
}

// Markdown renders rep as the incident report.
func (r *Renderer) Markdown(rep *triaged.Report) ([]byte, error) {
	if rep == nil {
		return nil, errors.New("render report: nil report")
	}
	var b bytes.Buffer
	if err := r.tmpl.ExecuteTemplate(&b, r.root, rep); err != nil {
		return nil, fmt.Errorf("render report %s: %w", rep.ID, err)
	}
	return b.Bytes(), nil
}

// funcMap is the vocabulary of report templates. Everything in it is a pure function of its
// arguments, so one map can serve every template and renderer.
func funcMap() template.FuncMap {
	return template.FuncMap{
		"md":           md,
		"code":         code,
		"labels":       labels,
		"link":         link,
		"codeBlock":    codeBlock,
		"checkbox":     checkbox,
		"utc":          utc,
		"duration":     duration,
		"plural":       plural,
		"truncate":     truncate,
		"inc":          func(i int) int { return i + 1 },
		"notCollected": notCollected,
		"title":        Title,
		"join":         strings.Join,
		"trusted":      trusted,
	}
}

// escapeActions makes escaping the default instead of something every template action must
// remember: it appends "| md" to each action that prints a value, as html/template appends its
// escapers. md passes through values that are already markdown, so {{code .X}} and {{md .X}}
// print as they are, while {{.Service}} or {{printf "%s" .Service}} are escaped.
func escapeActions(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			escapeActions(c)
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) > 0 {
			return // {{$x := ...}} and {{$x = ...}} print nothing
		}
		n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
			NodeType: parse.NodeCommand,
			Pos:      n.Pos,
			Args:     []parse.Node{parse.NewIdentifier("md").SetTree(nil).SetPos(n.Pos)},
		})
	case *parse.IfNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	case *parse.RangeNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	case *parse.WithNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	}
}

// notCollected returns why a section of rep was not collected, or "" when it was (and may be
// empty: then the template says "None found."). Report.Pending names the sections that triage
// has no source for yet; a report must say so rather than look as if nothing was found.
func notCollected(rep *triaged.Report, section string) string {
	if rep == nil || !slices.Contains(rep.Pending, section) {
		return ""
	}
	if why := rep.PendingWhy[section]; why != "" {
		return why
	}
	switch section {
	case "recent_changes":
		return "no deploy events are configured yet"
	case "probes":
		return "no health probes are configured for this service yet"
	case "logs":
		return "no log sources are configured for this service yet"
	case "runbook":
		return "no runbook library is configured yet"
	default:
		return "triage does not collect " + strings.ReplaceAll(section, "_", " ") + " yet"
	}
}

// Title is a one-line summary of rep for sinks that show a title or a notification preview
// (Slack, e-mail subjects): "[P1 CRITICAL] checkout (production): TargetDown opened". It is plain
// text with line breaks and control characters removed; a sink escapes it for its own syntax.
func Title(rep *triaged.Report) string {
	if rep == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s %s] %s", rep.Severity, cmpOr(rep.SeverityName, rep.Severity.Name()),
		cmpOr(rep.Service, "unknown service"))
	if rep.Environment != "" {
		fmt.Fprintf(&b, " (%s)", rep.Environment)
	}
	fmt.Fprintf(&b, ": %s", cmpOr(rep.AlertName, "alert"))
	if rep.Event != "" {
		fmt.Fprintf(&b, " %s", rep.Event)
	}
	return strings.Join(strings.Fields(flatten(b.String())), " ")
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// sampleReports are what NewRenderer executes a template against before accepting it: a report
// with every field set, one whose sections are all pending, and the zero report, so that the
// filled, the not-collected and the empty branch of each section run once.
func sampleReports() []*triaged.Report {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	end := start.Add(time.Hour)
	full := &triaged.Report{
		SchemaVersion: triaged.ReportSchemaVersion, ID: "sample", IncidentID: "sample", Event: triaged.EventResolved,
		Severity: triaged.P1, SeverityName: "CRITICAL", ResponseTime: "< 15 min", Status: triaged.ReportResolved,
		AlertName: "Sample", Service: "sample", ServiceFrom: "label service", Environment: "production",
		Team: "sample", Owners: []string{"sample"}, Channel: "sample", Dependencies: []string{"sample"}, Summary: "sample", Description: "sample", UserImpact: "sample", Stack: "Go",
		ArchDoc: "docs/sample.md", Impact: triaged.Impact{ProductionDown: true},
		StartedAt: start, EndedAt: &end, ReceivedAt: start, TriagedAt: start,
		Rule: "sample", RuleSetVersion: "1",
		Decisions: []triaged.Decision{{Stage: "classify", Rule: "sample", Severity: triaged.P1, Reason: "sample"}},
		Alerts: []triaged.ReportAlert{{
			Fingerprint: "0", Status: triaged.StatusResolved, Labels: map[string]string{"alertname": "Sample"},
			Annotations: map[string]string{"summary": "sample"}, StartsAt: start, EndsAt: &end,
			GeneratorURL: "http://prometheus.example/graph",
		}},
		GroupKey: "{}:{}", TruncatedAlerts: 1,
		RecentChanges: []triaged.Change{{Service: "sample", Version: "v1", Commit: "0", Author: "sample",
			URL: "http://ci.example/1", Time: start, MinutesBefore: 1, Suspect: true}},
		Probes:       []triaged.Probe{{Name: "sample", Kind: "http", Target: "http://sample", Status: "200", Body: "ok", Error: "e"}},
		Logs:         []triaged.LogTail{{Source: "sample", Lines: []string{"line"}, Truncated: true, Error: "e"}},
		Runbook:      &triaged.Runbook{Title: "sample", Path: "sample.md", URL: "http://wiki.example/sample", Steps: []string{"step"}},
		Observations: []string{"sample"},
		Links:        triaged.Links{Alertmanager: "http://am.example", Generator: "http://prometheus.example", Silence: "http://am.example/silence"},
	}
	pending := *full
	pending.Event, pending.Status, pending.EndedAt, pending.Runbook = triaged.EventUpdated, triaged.ReportInvestigating, nil, nil
	pending.Pending = []string{"recent_changes", "probes", "logs", "runbook", "observations", "sample"}
	return []*triaged.Report{full, &pending, {}}
}
