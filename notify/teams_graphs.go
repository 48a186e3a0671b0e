package notify

import (
	"slices"
	"strings"

	"github.com/triaged/triaged"
)

// teamsMaxURL bounds an Image element's URL; the card's 28 KB bound the rest.
const teamsMaxURL = 2048

// teamsMetrics is the card's Metrics section: one line per metric and the graphs as Image
// elements, when triaged's external URL is known (Teams fetches each picture itself). A
// section not collected says why.
func teamsMetrics(rep *triaged.Report, externalURL string, list func([]string) []string) []teamsPart {
	if why := notCollected(rep, triaged.SectionMetrics); why != "" {
		return []teamsPart{{title: "Metrics", text: teamsText("Not collected: " + why + ".")}}
	}
	if len(rep.Metrics) == 0 {
		return nil
	}
	var lines []string
	for _, m := range rep.Metrics {
		lines = append(lines, metricLine(m, rep.StartedAt))
	}
	text := ""
	for i, l := range list(lines) {
		if i > 0 {
			text += "\n"
		}
		text += l
	}
	title := "Metrics"
	if rep.Event == triaged.EventUpdated || rep.Event == triaged.EventResolved {
		title = "Metrics at the opening"
	}
	return []teamsPart{{title: title, text: text, images: chatGraphs(rep, externalURL, teamsMaxURL)}}
}

// withTeamsGraphs puts the graphs into a sink template's Metrics section, or a Graphs section of
// their own after the others when the template has none.
func withTeamsGraphs(parts []teamsPart, rep *triaged.Report, externalURL string) []teamsPart {
	g := chatGraphs(rep, externalURL, teamsMaxURL)
	if len(g) == 0 {
		return parts
	}
	if i := slices.IndexFunc(parts, func(p teamsPart) bool { return strings.HasPrefix(p.title, "Metrics") }); i >= 0 {
		parts[i].images = g
		return parts
	}
	return append(parts, teamsPart{title: "Graphs", images: g})
}

// teamsImages are the graphs as Adaptive Card Image elements.
func teamsImages(gs []chatGraph) []card {
	var out []card
	for _, g := range gs {
		out = append(out, card{"type": "Image", "url": g.URL, "altText": truncate(500, g.Alt), "size": "Stretch"})
	}
	return out
}
