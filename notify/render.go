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

	"github.com/triaged/triaged"
)

// defaultTemplateName names the embedded template in error messages and in {{template}} calls.
const defaultTemplateName = "report.md.tmpl"

//go:embed templates/report.md.tmpl
var defaultTemplate string

//go:embed templates/postmortem.md.tmpl
var postmortemTemplate string

// Renderer turns a report into its Markdown text, and an incident into its postmortem skeleton.
// It is safe for concurrent use.
type Renderer struct {
	tmpl *template.Template
	root string // the template executed for a report
}

// NewRenderer loads the report template. templateFile "" means the embedded default
// (templates/report.md.tmpl). A user file is parsed on top of the default, so it can either be a
// whole report of its own or contain only {{define}}s that replace some of the default's blocks:
// "headline"; per event "incident_report" (opened, reopened), "status_update" (updated),
// "flapping" (updated while flapping) and "resolution" (resolved); and the sections "header",
// "summary", "impact", "recent_changes", "observations", "probes", "logs", "metrics" (the
// opening's, under a "### Metrics" heading the report prints when there is something to show),
// "metrics_at_opening" (in updates and resolutions), "user_impact", "response_team",
// "communication", "runbook", "severity_decision", "alerts", "links", "gate", "next_steps",
// "candidate_causes" and "footer". The postmortem (templates/postmortem.md.tmpl) prints the
// evidence with "recent_changes", "probes", "logs", "metrics" and "candidate_causes", so a
// user's version of those blocks applies there too.
//
// Every value a template prints is escaped for Markdown unless a function that builds Markdown
// produced it (md, code, labels, link, codeBlock, checkbox, trusted), so a user template is as
// safe against hostile alert labels as the default. The template is also executed against
// sample reports of every event, and the postmortem against a sample incident, so a typo such
// as {{.Servce}} or an unguarded {{.Runbook.Title}} in any branch fails at load or reload, not
// while an incident is being reported.
func NewRenderer(templateFile string) (*Renderer, error) {
	t := template.New(defaultTemplateName).Funcs(funcMap())
	if _, err := t.Parse(defaultTemplate); err != nil {
		return nil, fmt.Errorf("parse embedded report template: %w", err)
	}
	if _, err := t.New(postmortemTemplateName).Parse(postmortemTemplate); err != nil {
		return nil, fmt.Errorf("parse embedded postmortem template: %w", err)
	}
	r := &Renderer{tmpl: t, root: defaultTemplateName}
	if whole, err := parseUserTemplate(t, templateFile); err != nil {
		return nil, fmt.Errorf("load report template: %w", err)
	} else if whole {
		r.root = templateFile
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			escapeActions(tt.Tree.Root)
		}
	}
	for _, rep := range sampleReports() {
		if err := r.tmpl.ExecuteTemplate(io.Discard, r.root, rep); err != nil {
			// The error names the template and block that failed ("executing \"resolution\""),
			// which says which event's branch it was.
			return nil, fmt.Errorf("load report template: try on a sample report: %w", err)
		}
	}
	for _, s := range samplePostmortems() {
		if _, err := r.Postmortem(s.inc, s.reports); err != nil {
			return nil, fmt.Errorf("load report template: try the postmortem on a sample incident: %w", err)
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
		"md":            md,
		"code":          code,
		"labels":        labels,
		"link":          link,
		"codeBlock":     codeBlock,
		"checkbox":      checkbox,
		"utc":           utc,
		"duration":      duration,
		"plural":        plural,
		"truncate":      truncate,
		"inc":           func(i int) int { return i + 1 },
		"notCollected":  notCollected,
		"title":         Title,
		"join":          strings.Join,
		"trusted":       trusted,
		"headline":      headline,
		"deadlines":     deadlines,
		"nextUpdate":    nextUpdate,
		"postmortemDue": postmortemDue,
		"clock":         clock,
		"before":        before,
		"suspects":      suspects,
		"failing":       failing,
		"first":         first,
		"impactList":    impactList,
		"alertMetric":   alertMetric,
		"queryMetrics":  queryMetrics,
		"metricValue":   metricValue,
		"changePercent": changePercent,
		"offset":        offset,
		"threshold":     threshold,
		"graphLink":     graphLink,
		"codeList":      codeList,
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
	case triaged.SectionMetrics:
		return "no Prometheus is configured for this service yet"
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
		env := rep.Environment
		if rep.EnvironmentAssumed {
			env += ", assumed"
		}
		fmt.Fprintf(&b, " (%s)", env)
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

// parseUserTemplate parses a user's template file ("" for none) on top of t: its {{define}}
// blocks replace those of the same name, and it reports whether text outside them makes the file
// a whole template of its own. The template is named by its path, so text/template's errors read
// "template: PATH:LINE: ...".
func parseUserTemplate(t *template.Template, templateFile string) (whole bool, err error) {
	if templateFile == "" {
		return false, nil
	}
	text, err := os.ReadFile(templateFile)
	if err != nil {
		return false, err
	}
	u, err := t.New(templateFile).Parse(string(text))
	if err != nil {
		return false, err
	}
	return u.Tree != nil && !parse.IsEmptyTree(u.Tree.Root), nil
}
