package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/triaged/triaged"
)

const (
	// teamsMaxBytes is the largest message a Teams webhook takes (about 28 KB).
	teamsMaxBytes = 28 * 1024
	// teamsSectionRunes bounds one section's text, so one huge annotation cannot crowd out the
	// sections after it.
	teamsSectionRunes = 3000
	// teamsMaxItems bounds the lines of a list section (alerts, changes, log lines).
	teamsMaxItems = 20
	// teamsReserve is kept free for the truncation note when sections are left out.
	teamsReserve = 600
)

// teams posts an Adaptive Card per report to a Workflows ("Post to a channel when a webhook
// request is received") webhook.
type teams struct {
	url         string
	externalURL string
	client      hookClient
	// renderer, when the sink has a template of its own, writes the card's sections.
	renderer *Renderer
}

func openTeams(c SinkConfig, env SinkEnv) (Sink, func() error, error) {
	raw, err := readSecretFile("url_file", c.URLFile)
	if err != nil {
		return nil, nil, err
	}
	u, err := parseHookURL("url_file "+c.URLFile, raw, true)
	if err != nil {
		return nil, nil, err
	}
	t := &teams{url: raw, externalURL: env.ExternalURL, client: newHookClient(u)}
	if c.Template != "" {
		if t.renderer, err = NewRenderer(c.Template); err != nil {
			return nil, nil, fmt.Errorf("template: %w", err)
		}
	}
	return t, func() error { return nil }, nil
}

func (t *teams) Name() string { return "teams" }

// Deliver posts the report's card. A workflow webhook cannot be searched, so a report that
// MaybePosted may show twice.
func (t *teams) Deliver(ctx context.Context, d Delivery) (*Thread, error) {
	if d.Report == nil {
		return nil, Permanent(errors.New("post report to teams: nil report"))
	}
	sections := teamsSections(d.Report, t.externalURL)
	if t.renderer != nil {
		text, err := t.renderer.Markdown(d.Report)
		if err != nil {
			return nil, Permanent(fmt.Errorf("render report %s for teams: %w", d.Report.ID, err))
		}
		sections = withTeamsGraphs(teamsTemplateSections(string(text)), d.Report, t.externalURL)
	}
	body, err := teamsCard(d.Report, t.externalURL, sections)
	if err != nil {
		return nil, Permanent(err)
	}
	_, err = t.client.do(ctx, "post report "+d.Report.ID, http.MethodPost, t.url, nil, body)
	return nil, err
}

type card = map[string]any

// TeamsCard renders rep as the webhook message Teams Workflows expect: a message with one
// Adaptive Card 1.4 attachment. The headline comes first in the severity's colour, then the
// facts (severity, state, service, environment, alerts, suspect change), the report's sections as
// TextBlocks, and buttons for the full report, the runbook and a silence. Text from alerts is
// escaped for the cards' Markdown and has its URLs broken, so it neither formats, nor links, nor
// (having no <at> entity) mentions. Sections that would take the message past 28 KB are left out,
// with a note pointing to the full report.
func TeamsCard(rep *triaged.Report, externalURL string) ([]byte, error) {
	if rep == nil {
		return nil, errors.New("render teams card: nil report")
	}
	return teamsCard(rep, externalURL, teamsSections(rep, externalURL))
}

// teamsCard is TeamsCard with the sections given: the built-in ones, or a sink template's.
func teamsCard(rep *triaged.Report, externalURL string, sections []teamsPart) ([]byte, error) {
	if rep == nil {
		return nil, errors.New("render teams card: nil report")
	}
	colour, style := teamsColour(rep)
	header := card{"type": "Container", "style": style, "bleed": true, "items": []card{
		{"type": "TextBlock", "text": teamsText(triaged.Headline(rep)), "weight": "Bolder", "size": "Medium",
			"color": colour, "wrap": true},
	}}
	facts := []card{}
	fact := func(title, value string) { facts = append(facts, card{"title": title, "value": teamsText(value)}) }
	sev := "P? UNKNOWN"
	if rep.Severity.Valid() {
		sev = rep.Severity.String() + " " + cmpOrString(rep.SeverityName, rep.Severity.Name())
	}
	fact("Severity", sev)
	fact("State", reportState(rep))
	fact("Service", cmpOrString(rep.Service, "unknown"))
	if rep.Environment != "" {
		fact("Environment", rep.EnvironmentShown())
	}
	c := rep.Counts()
	alerts := fmt.Sprintf("%d firing", c.Firing)
	if c.Resolved > 0 {
		alerts += fmt.Sprintf(", %d resolved", c.Resolved)
	}
	fact("Alerts", alerts)
	if s := suspectChange(rep); s != nil {
		fact("Suspect change", changeLine(s))
	}
	body := []card{header, {"type": "FactSet", "facts": facts}}

	var actions []card
	for _, l := range reportLinks(rep, externalURL) {
		if l.text == "Source" || l.text == "Alertmanager" {
			continue // the card keeps to three buttons; both are in the Links section
		}
		if u, ok := httpURL(l.url); ok {
			actions = append(actions, card{"type": "Action.OpenUrl", "title": l.text, "url": u})
		}
	}
	msg := func(body []card) card {
		content := card{"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"version": "1.4", "body": body, "msteams": card{"width": "Full"}}
		if len(actions) > 0 {
			content["actions"] = actions
		}
		return card{"type": "message", "attachments": []card{{
			"contentType": "application/vnd.microsoft.card.adaptive", "content": content}}}
	}
	left := 0
	for i, s := range sections {
		next := append(append([]card{}, body...), teamsSection(s)...)
		if data, err := marshalCard(msg(next)); err != nil {
			return nil, err
		} else if len(data) > teamsMaxBytes-teamsReserve {
			left = len(sections) - i
			break
		}
		body = next
	}
	if left > 0 {
		note := fmt.Sprintf("Report truncated to fit one card: %d more %s left out.", left, plural(left, "section", "sections"))
		if full := fullReportURL(externalURL, rep); full != "" {
			note += " Open the full report for everything."
		}
		body = append(body, card{"type": "TextBlock", "text": note, "isSubtle": true, "wrap": true, "separator": true})
	}
	return marshalCard(msg(body))
}

// marshalCard encodes the message without HTML escaping, so "<" costs one byte, not six.
func marshalCard(v card) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("render teams card: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// teamsColour is the headline's colour and the header's container style for the severity.
func teamsColour(rep *triaged.Report) (colour, style string) {
	if rep.Event == triaged.EventResolved {
		return "Good", "good"
	}
	switch rep.Severity {
	case triaged.P1:
		return "Attention", "attention"
	case triaged.P2:
		return "Warning", "warning"
	case triaged.P3:
		return "Accent", "accent"
	}
	return "Default", "emphasis"
}

// teamsText escapes untrusted text for a TextBlock or a fact: CommonMark's backslash escapes (the
// cards' Markdown is a subset of it), URLs broken with a zero-width space, and "<" before a
// letter kept from reading as a tag such as <at>.
func teamsText(s string) string {
	s = breakAutolinks(string(md(s)))
	if strings.Contains(s, "&lt;") {
		// Not every Teams client decodes entities; a zero-width space keeps "<at>" from
		// being a tag just as well and reads as "<" everywhere.
		s = strings.ReplaceAll(s, "&lt;", "<\u200b")
	}
	return s
}

func teamsSection(p teamsPart) []card {
	var out []card
	if p.title != "" {
		out = append(out, card{"type": "TextBlock", "text": p.title, "weight": "Bolder", "separator": true, "wrap": true})
	}
	if p.text != "" {
		body := card{"type": "TextBlock", "text": truncate(teamsSectionRunes, p.text), "wrap": true}
		if p.title == "" {
			body["separator"] = true
		}
		out = append(out, body)
	}
	return append(out, teamsImages(p.images)...)
}

// teamsPart is a section of the card: a title, its text, and the graphs it shows.
type teamsPart struct {
	title, text string
	images      []chatGraph
}

// teamsTemplateSections cuts a sink template's Markdown into the card's sections at its heading
// lines ("#" to "######"), which TextBlocks do not render; text before the first heading is a
// section without a title. The template's escaping of alert text (the renderer's md and code)
// holds; bare URLs are broken like any alert text, so a template's links show as text and the
// card's buttons carry the report's links.
func teamsTemplateSections(markdown string) []teamsPart {
	var out []teamsPart
	cur := teamsPart{}
	flush := func() {
		cur.text = strings.TrimSpace(cur.text)
		if cur.title != "" || cur.text != "" {
			out = append(out, cur)
		}
	}
	for line := range strings.SplitSeq(markdown, "\n") {
		if t := strings.TrimLeft(line, "#"); len(t) < len(line) && len(line)-len(t) <= 6 && strings.HasPrefix(t, " ") {
			flush()
			cur = teamsPart{title: strings.TrimSpace(t)}
			continue
		}
		cur.text += breakAutolinks(line) + "\n"
	}
	flush()
	return out
}

// teamsSections are the report's sections in the order of the Markdown report, each as escaped
// text; empty sections are left out.
func teamsSections(rep *triaged.Report, externalURL string) []teamsPart {
	var out []teamsPart
	add := func(title string, lines ...string) {
		var kept []string
		for _, l := range lines {
			if l != "" {
				kept = append(kept, l)
			}
		}
		if len(kept) > 0 {
			out = append(out, teamsPart{title: title, text: strings.Join(kept, "\n")})
		}
	}
	list := func(items []string) []string {
		var out []string
		items = slices.DeleteFunc(slices.Clone(items), func(s string) bool { return s == "" })
		for i, it := range items {
			if i == teamsMaxItems {
				out = append(out, fmt.Sprintf("- … %d more", len(items)-i))
				break
			}
			out = append(out, "- "+teamsText(it))
		}
		return out
	}
	add("What changed", list(rep.Changes)...)
	add("Summary", teamsText(rep.Summary), teamsText(rep.Description))
	impact := teamsText(rep.UserImpact)
	if im := impactList(rep.Impact); im != "" {
		impact = strings.TrimSpace(impact + "\n" + teamsText(im))
	}
	if m := rep.MeasuredImpact; m != nil && m.Text != "" && len(m.Queries) > 0 {
		impact += "\n" + teamsText("measured by "+strings.Join(m.Queries, " and "))
	}
	add("Impact", impact)
	var changes []string
	for _, c := range rep.RecentChanges {
		changes = append(changes, changeLine(&c))
	}
	add("Recent changes", append([]string{teamsText(rep.RecentChangesSummary)}, list(changes)...)...)
	add("Observations", list(rep.Observations)...)
	out = append(out, teamsMetrics(rep, externalURL, list)...)
	var probes []string
	for _, p := range rep.Probes {
		state := "OK"
		if !p.OK {
			state = "FAILED: " + cmpOrString(p.Error, p.Status)
		}
		probes = append(probes, fmt.Sprintf("%s %s %s %s", p.Name, p.Kind, p.Target, state))
	}
	add("Probes", list(probes)...)
	for _, l := range rep.Logs {
		lines := l.Lines
		if len(lines) > teamsMaxItems {
			lines = lines[len(lines)-teamsMaxItems:]
		}
		add("Logs of "+teamsText(l.Source), list(append([]string{l.Error}, lines...))...)
	}
	if rb := rep.Runbook; rb != nil {
		add("Runbook", append([]string{teamsText(rb.Title)}, list(rb.Steps)...)...)
	}
	team := []string{}
	if rep.OnCall != "" {
		team = append(team, "On-call: "+rep.OnCall)
	}
	if len(rep.Owners) > 0 {
		team = append(team, "Owners: "+strings.Join(rep.Owners, ", "))
	}
	if rep.Team != "" {
		team = append(team, "Team: "+rep.Team)
	}
	if len(rep.EscalationPath) > 0 {
		team = append(team, "Escalation: "+strings.Join(rep.EscalationPath, " → "))
	}
	add("Response team", list(team)...)
	var alerts []string
	for _, a := range rep.Alerts {
		sev := ""
		if a.Severity.Valid() {
			sev = " " + a.Severity.String()
		}
		alerts = append(alerts, fmt.Sprintf("%s %s%s since %s, %s", a.Status, a.Labels["alertname"], sev, utc(a.StartsAt), strings.Trim(string(labels(a.Labels)), "` ")))
	}
	add("Alerts", list(alerts)...)
	add("Report", teamsText(fmt.Sprintf("Report %s of incident %s, triaged %s (schema v%d).", rep.ID, rep.IncidentID, utc(rep.TriagedAt), rep.SchemaVersion)))
	return out
}

// httpURL returns raw with any password redacted if it is an absolute http(s) URL.
func httpURL(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return u.Redacted(), true
}
