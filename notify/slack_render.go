package notify

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/triaged/triaged"
)

//go:embed templates/slack_root.tmpl
var slackRootTemplate string

// Slack's limits on one message (https://api.slack.com/reference/block-kit/blocks): blocks per
// message, characters of one section's text, characters of the whole message. Characters are
// counted in UTF-16 code units, which is never less than what Slack counts.
const (
	slackMaxBlocks      = 50
	slackMaxSectionText = 3000
	slackMaxMessage     = 40000
)

// slackMessage is the body of chat.postMessage, chat.update and an incoming webhook. LinkNames
// and Parse are always sent, so Slack never turns "@channel" or "#channel" text into a mention
// or a link whatever the workspace's defaults; unfurls are off so a label's URL shows no preview.
type slackMessage struct {
	Channel     string         `json:"channel,omitempty"`
	TS          string         `json:"ts,omitempty"`
	ThreadTS    string         `json:"thread_ts,omitempty"`
	Text        string         `json:"text"`
	Blocks      []slackBlock   `json:"blocks,omitempty"`
	Metadata    *slackMetadata `json:"metadata,omitempty"`
	LinkNames   bool           `json:"link_names"`
	Parse       string         `json:"parse"`
	UnfurlLinks bool           `json:"unfurl_links"`
	UnfurlMedia bool           `json:"unfurl_media"`
}

type slackBlock struct {
	Type string     `json:"type"`
	Text *slackText `json:"text,omitempty"`
	// An image block's picture, description and title.
	ImageURL string     `json:"image_url,omitempty"`
	AltText  string     `json:"alt_text,omitempty"`
	Title    *slackText `json:"title,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackMetadata marks a message as triaged's, with the report it shows, so that a sink that may
// have posted it already (Delivery.MaybePosted) can find it instead of posting it twice.
type slackMetadata struct {
	EventType    string            `json:"event_type"`
	EventPayload map[string]string `json:"event_payload"`
}

// The event types of the messages a Slack sink posts.
const (
	slackRootEvent   = "triaged_incident" // an incident's root message
	slackReportEvent = "triaged_report"   // a report in the incident's thread
)

func slackMeta(event string, rep *triaged.Report) *slackMetadata {
	return &slackMetadata{EventType: event, EventPayload: map[string]string{
		"report_id": rep.ID, "incident_id": rep.IncidentID,
	}}
}

// SlackRenderer renders reports as Slack messages in mrkdwn: an incident's root message (the
// headline, severity colour, service, alerts, suspect change, links) and the full report, the
// seed's INCIDENT REPORT, STATUS UPDATE or RESOLUTION NOTIFICATION, within Slack's limits. It
// is safe for concurrent use.
type SlackRenderer struct {
	tmpl     *template.Template
	report   string // the template executed for the full report
	external string
}

// NewSlackRenderer loads the Slack templates: the root message (templates/slack_root.tmpl,
// block "slack_root") and the report (templates/report.md.tmpl, its Markdown rewritten as
// mrkdwn, its values escaped for mrkdwn). templateFile "" keeps the defaults; a file is parsed
// on top of them, as for the Markdown renderer, so it may {{define}} "slack_root" or any block
// of the report, and a file with text outside {{define}}s replaces the whole report. It is
// tried on the sample reports at once. externalURL is --web.external-url, for the link to the
// full report.
func NewSlackRenderer(templateFile, externalURL string) (*SlackRenderer, error) {
	r := &SlackRenderer{report: defaultTemplateName, external: strings.TrimRight(externalURL, "/")}
	t := template.New(defaultTemplateName).Funcs(funcMap()).Funcs(slackFuncs(r.reportURL)).
		Funcs(template.FuncMap{"graphLink": r.sgraphLink, "codeList": scodeList})
	if _, err := t.Parse(defaultTemplate); err != nil {
		return nil, fmt.Errorf("parse embedded report template: %w", err)
	}
	if _, err := t.New("slack_root.tmpl").Parse(slackRootTemplate); err != nil {
		return nil, fmt.Errorf("parse embedded Slack root template: %w", err)
	}
	if whole, err := parseUserTemplate(t, templateFile); err != nil {
		return nil, fmt.Errorf("load Slack template: %w", err)
	} else if whole {
		r.report = templateFile
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			toMrkdwn(tt.Tree.Root)
			escapeActions(tt.Tree.Root)
		}
	}
	r.tmpl = t
	for _, rep := range sampleReports() {
		for _, name := range []string{"slack_root", r.report} {
			if err := t.ExecuteTemplate(io.Discard, name, rep); err != nil {
				return nil, fmt.Errorf("load Slack template: try on a sample report: %w", err)
			}
		}
	}
	return r, nil
}

// reportURL is where the full report is, "" when triaged's external URL is unknown.
func (r *SlackRenderer) reportURL(rep *triaged.Report) string {
	if r.external == "" || rep == nil || rep.IncidentID == "" {
		return ""
	}
	return r.external + "/api/v1/incidents/" + pathEscape(rep.IncidentID) + "/report.md"
}

func pathEscape(s string) string {
	return strings.NewReplacer("/", "%2F", "?", "%3F", "#", "%23", " ", "%20", "%", "%25").Replace(s)
}

func (r *SlackRenderer) execute(name string, rep *triaged.Report) (string, error) {
	if rep == nil {
		return "", errors.New("render report for Slack: nil report")
	}
	var b bytes.Buffer
	if err := r.tmpl.ExecuteTemplate(&b, name, rep); err != nil {
		return "", fmt.Errorf("render report %s for Slack: %w", rep.ID, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// Root is the incident's root message for rep: posted with the opening, edited with each later
// report.
func (r *SlackRenderer) Root(rep *triaged.Report) (slackMessage, error) {
	text, err := r.execute("slack_root", rep)
	if err != nil {
		return slackMessage{}, err
	}
	return r.fit(rep, splitSections(text, slackMaxSectionText), nil), nil
}

// Report is the full report, the reply in the incident's thread.
func (r *SlackRenderer) Report(rep *triaged.Report) (slackMessage, error) {
	text, err := r.execute(r.report, rep)
	if err != nil {
		return slackMessage{}, err
	}
	return r.fit(rep, splitSections(text, slackMaxSectionText), r.images(rep)), nil
}

// Whole is the root message followed by the full report, for sinks without threads.
func (r *SlackRenderer) Whole(rep *triaged.Report) (slackMessage, error) {
	root, err := r.execute("slack_root", rep)
	if err != nil {
		return slackMessage{}, err
	}
	report, err := r.execute(r.report, rep)
	if err != nil {
		return slackMessage{}, err
	}
	parts := append(splitSections(root, slackMaxSectionText), splitSections(report, slackMaxSectionText)...)
	return r.fit(rep, parts, r.images(rep)), nil
}

// fit makes the message of sections and then the images of the graphs, its text the headline
// (what notifications and clients without blocks show). Sections past Slack's limits are left
// out, and a last section says so and links to the full report; the images keep their blocks.
func (r *SlackRenderer) fit(rep *triaged.Report, sections []string, images []slackBlock) slackMessage {
	m := r.fitSections(rep, sections, slackMaxBlocks-len(images))
	m.Blocks = append(m.Blocks, images...)
	return m
}

func (r *SlackRenderer) fitSections(rep *triaged.Report, sections []string, maxBlocks int) slackMessage {
	m := slackMessage{Text: escapeMrkdwn(headline(rep)), Parse: "none"}
	total := slackLen(m.Text)
	for _, s := range sections {
		total += slackLen(s)
	}
	if len(sections) <= maxBlocks && total <= slackMaxMessage {
		for _, s := range sections {
			m.Blocks = append(m.Blocks, section(s))
		}
		return m
	}
	total = slackLen(m.Text)
	marker := r.truncated(rep, 0, 0)
	budget := slackMaxMessage - slackLen(marker) - 40 // the counts in the final marker
	kept := 0
	for _, s := range sections {
		if kept+1 >= maxBlocks || total+slackLen(s) > budget {
			break
		}
		m.Blocks = append(m.Blocks, section(s))
		total += slackLen(s)
		kept++
	}
	m.Blocks = append(m.Blocks, section(r.truncated(rep, kept, len(sections))))
	return m
}

func section(text string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: text}}
}

// truncated is the last section of a message cut to fit Slack's limits.
func (r *SlackRenderer) truncated(rep *triaged.Report, kept, all int) string {
	where := "the full report is at `GET /api/v1/incidents/" + escapeMrkdwn(rep.IncidentID) + "/report.md` on triaged"
	if u := r.reportURL(rep); u != "" {
		where = "the full report: " + string(slink("report.md", u))
	}
	return fmt.Sprintf("_✂ Cut to fit Slack's limits (%d of %d parts shown)_: %s", kept, all, where)
}

// slackLen counts s as Slack's limits do, in UTF-16 code units.
func slackLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// fence opens and closes a code block in mrkdwn; splitSections keeps each part's blocks closed.
const fence = "```"

// splitSections cuts text into parts of at most max characters, at line ends where it can. A
// part that ends inside a code block closes it, and the next part opens it again. A line
// longer than a part is cut, never inside an entity such as &amp;.
func splitSections(text string, max int) []string {
	var out []string
	var cur strings.Builder
	inFence := false
	reserve := len("\n" + fence)
	flush := func() {
		s := strings.TrimRight(cur.String(), "\n")
		if inFence {
			s += "\n" + fence
		}
		if strings.TrimSpace(strings.Trim(s, "`\n")) != "" {
			out = append(out, s)
		}
		cur.Reset()
		if inFence {
			cur.WriteString(fence + "\n")
		}
	}
	for line := range strings.SplitAfterSeq(text, "\n") {
		for slackLen(cur.String())+slackLen(line)+reserve > max {
			room := max - slackLen(cur.String()) - reserve
			if room < max/4 && cur.Len() > len(fence)+1 {
				flush()
				continue
			}
			head := cutAt(line, room)
			cur.WriteString(head)
			line = line[len(head):]
			flush()
		}
		cur.WriteString(line)
		if strings.TrimSpace(line) == fence {
			inFence = !inFence
		}
	}
	flush()
	return out
}

// cutAt is the longest head of s of at most n characters that does not end inside an entity.
func cutAt(s string, n int) string {
	end, count := 0, 0
	for i, r := range s {
		c := utf16.RuneLen(r)
		if count+c > n {
			break
		}
		count += c
		end = i + utf8.RuneLen(r)
	}
	if amp := strings.LastIndexByte(s[:end], '&'); amp >= 0 && !strings.Contains(s[amp:end], ";") && end-amp < 6 {
		end = amp
	}
	return s[:end]
}
