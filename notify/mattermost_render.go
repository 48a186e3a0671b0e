package notify

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/triaged/triaged"
)

// mmMaxRunes is Mattermost's limit on a post's message (PostMessageMaxRunesV2), in characters.
const mmMaxRunes = 16383

// mmRenderer writes reports in Mattermost's Markdown: the root message of an incident's thread,
// and the full report (the sink's report template) cut to fit one post. Mattermost reads
// CommonMark with backslash escapes, so the Markdown renderer's escaping holds; on top of it,
// text from alerts has its bare URLs and "www." broken so the autolinker leaves them as text, and
// its mentions (@channel, @all, @here, @user) are broken by the zero-width space md puts after @.
type mmRenderer struct {
	report      *Renderer
	externalURL string
}

// mmSeverityIcon shows the severity at a glance in the channel list, where colour is not shown.
func mmSeverityIcon(rep *triaged.Report) string {
	if rep.Event == triaged.EventResolved {
		return ":white_check_mark:"
	}
	switch rep.Severity {
	case triaged.P1:
		return ":red_circle:"
	case triaged.P2:
		return ":large_orange_circle:"
	case triaged.P3:
		return ":large_yellow_circle:"
	}
	return ":white_circle:"
}

// mmText escapes untrusted inline text for a Mattermost message.
func mmText(v any) string { return breakAutolinks(string(md(v))) }

// root is the incident's root message: the headline, then what a responder needs first
// (severity, state, service, environment, alerts, the suspect change) and the links. It is
// edited in place with every later report.
func (m *mmRenderer) root(rep *triaged.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s **%s**\n", mmSeverityIcon(rep), mmText(triaged.Headline(rep)))
	sev := "P? UNKNOWN"
	if rep.Severity.Valid() {
		sev = rep.Severity.String() + " " + cmpOrString(rep.SeverityName, rep.Severity.Name())
	}
	fmt.Fprintf(&b, "**Severity**: %s · **State**: %s", mmText(sev), mmText(reportState(rep)))
	fmt.Fprintf(&b, " · **Service**: %s", mmText(cmpOrString(rep.Service, "unknown")))
	if rep.Environment != "" {
		fmt.Fprintf(&b, " · **Environment**: %s", mmText(rep.EnvironmentShown()))
	}
	c := rep.Counts()
	fmt.Fprintf(&b, " · **Alerts**: %d firing", c.Firing)
	if c.Resolved > 0 {
		fmt.Fprintf(&b, ", %d resolved", c.Resolved)
	}
	b.WriteByte('\n')
	if s := suspectChange(rep); s != nil {
		fmt.Fprintf(&b, "**Suspect change**: %s\n", mmText(changeLine(s)))
	}
	if ic := rep.IncidentChannel; ic != nil {
		switch {
		case ic.Unavailable != "":
			fmt.Fprintf(&b, "**Incident channel**: not opened: %s\n", mmText(ic.Unavailable))
		case ic.URL != "":
			fmt.Fprintf(&b, "**Incident channel**: %s\n", link(ic.Name, ic.URL))
		default:
			fmt.Fprintf(&b, "**Incident channel**: %s\n", mmText(ic.Name))
		}
	}
	var links []string
	for _, l := range reportLinks(rep, m.externalURL) {
		links = append(links, string(link(l.text, l.url)))
	}
	if len(links) > 0 {
		b.WriteString(strings.Join(links, " · "))
		b.WriteByte('\n')
	}
	return fitRunes(strings.TrimSuffix(b.String(), "\n"), mmMaxRunes, "")
}

// full is the whole report in the sink's template after prefix, fit to one post.
func (m *mmRenderer) full(rep *triaged.Report, prefix string) (string, error) {
	text, err := m.report.Markdown(rep)
	if err != nil {
		return "", err
	}
	doc := mmGraphs(string(text), rep, m.externalURL)
	return fitRunes(prefix+inertAutolinks(doc), mmMaxRunes, fullReportURL(m.externalURL, rep)), nil
}

// reportState is the incident's state in words: "INVESTIGATING", "INVESTIGATING (flapping)",
// "RESOLVED after 42m".
func reportState(rep *triaged.Report) string {
	state := cmpOrString(rep.Status, triaged.ReportInvestigating)
	switch {
	case rep.Event == triaged.EventResolved:
		state = triaged.ReportResolved
		if d := duration(rep.StartedAt, rep.EndedAt); d != "unknown" {
			state += " after " + d
		}
	case rep.Flapping:
		state += " (flapping)"
	}
	return state
}

// suspectChange is the suspect deploy closest to the alert, or nil.
func suspectChange(rep *triaged.Report) *triaged.Change {
	var best *triaged.Change
	for i := range rep.RecentChanges {
		c := &rep.RecentChanges[i]
		if c.Suspect && (best == nil || c.MinutesBefore < best.MinutesBefore) {
			best = c
		}
	}
	return best
}

// changeLine says what a change was in one line of plain text: "checkout (production) v2.14.1
// commit 77aa01f by dave, < 1 min before the alert".
func changeLine(c *triaged.Change) string {
	s := c.Service
	if c.Environment != "" {
		s += " (" + c.Environment + ")"
	}
	if c.Version != "" {
		s += " " + c.Version
	}
	if c.Commit != "" {
		s += " commit " + truncate(12, c.Commit)
	}
	if c.Author != "" {
		s += " by " + c.Author
	}
	return truncate(200, s) + ", " + before(*c) + " before the alert"
}

type textLink struct{ text, url string }

// reportLinks are the links a short message carries: the full report, the runbook, silencing,
// Alertmanager and the alert's source; only http(s) ones (link shows any other as text).
func reportLinks(rep *triaged.Report, externalURL string) []textLink {
	var out []textLink
	add := func(text, u string) {
		if u != "" {
			out = append(out, textLink{text, u})
		}
	}
	add("Full report", fullReportURL(externalURL, rep))
	if rep.Runbook != nil {
		add("Runbook", rep.Runbook.URL)
	}
	add("Silence", rep.Links.Silence)
	add("Alertmanager", rep.Links.Alertmanager)
	add("Source", rep.Links.Generator)
	return out
}

// fitRunes cuts text at a line boundary to at most limit runes, with a marker saying so and
// linking to the full report. A fenced code block the cut leaves open is closed.
func fitRunes(text string, limit int, fullURL string) string {
	if utf8.RuneCountInString(text) <= limit {
		return text
	}
	marker := "\n\n_… report truncated to fit one message_"
	if fullURL != "" {
		marker = "\n\n_… report truncated to fit one message: " + string(link("read the full report", fullURL)) + "_"
	}
	runes := []rune(text)
	budget := limit - utf8.RuneCountInString(marker)
	for budget > 0 {
		cut := string(runes[:budget])
		if i := strings.LastIndexByte(cut, '\n'); i > 0 {
			cut = cut[:i]
		}
		if f := openFence(cut); f != "" {
			cut += "\n" + f
		}
		out := cut + marker
		over := utf8.RuneCountInString(out) - limit
		if over <= 0 {
			return out
		}
		budget -= over // the closing fence took more than the line break gave back
	}
	return string([]rune(marker)[:min(limit, utf8.RuneCountInString(marker))])
}

// openFence returns the fence of a fenced code block left open at the end of text, or "".
func openFence(text string) string {
	open := ""
	for line := range strings.SplitSeq(text, "\n") {
		t := strings.TrimLeft(line, " ")
		if !strings.HasPrefix(t, "```") {
			continue
		}
		run := t[:longestPrefix(t, '`')]
		switch {
		case open == "":
			open = run
		case len(run) >= len(open) && strings.TrimSpace(t[len(run):]) == "":
			open = ""
		}
	}
	return open
}

func longestPrefix(s string, c byte) int {
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	return n
}

// inertAutolinks breaks bare URLs in rendered Markdown (breakAutolinks) outside code spans,
// fenced code and link destinations: the report's own links stay links, a URL that came in an
// annotation stays text.
func inertAutolinks(doc string) string {
	var b strings.Builder
	b.Grow(len(doc) + 64)
	fence := ""
	for i, line := range strings.Split(doc, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		t := strings.TrimLeft(line, " ")
		if fence != "" || strings.HasPrefix(t, "```") {
			if strings.HasPrefix(t, "```") {
				run := t[:longestPrefix(t, '`')]
				if fence == "" {
					fence = run
				} else if len(run) >= len(fence) && strings.TrimSpace(t[len(run):]) == "" {
					fence = ""
				}
			}
			b.WriteString(line)
			continue
		}
		b.WriteString(inertLine(line))
	}
	return b.String()
}

// inertLine breaks bare URLs in one line, leaving code spans and "](destination)" as they are.
func inertLine(line string) string {
	var b strings.Builder
	start := 0 // start of the text not yet written
	flush := func(end int) {
		b.WriteString(breakAutolinks(line[start:end]))
		start = end
	}
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\':
			i++ // an escaped character opens nothing
		case line[i] == '`':
			run := longestPrefix(line[i:], '`')
			closeAt := strings.Index(line[i+run:], strings.Repeat("`", run))
			if closeAt < 0 {
				i += run - 1
				continue
			}
			flush(i)
			end := i + run + closeAt + run
			b.WriteString(line[i:end])
			start, i = end, end-1
		case strings.HasPrefix(line[i:], "]("):
			end := strings.IndexByte(line[i:], ')')
			if end < 0 {
				continue
			}
			flush(i)
			b.WriteString(line[i : i+end+1])
			start, i = i+end+1, i+end
		}
	}
	flush(len(line))
	return b.String()
}

func cmpOrString(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
