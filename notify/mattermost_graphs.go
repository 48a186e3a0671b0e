package notify

import (
	"regexp"
	"strings"

	"github.com/triaged/triaged"
)

// graphLinkRE matches the links graphLink makes to a graph on triaged, with the separator
// before them; md escapes "[" and "(" in any other text, so nothing from an alert matches.
var graphLinkRE = regexp.MustCompile(`( · )?\[graph\]\((/api/v1/incidents/[^)\s]+\.png)\)`)

// mmGraphs makes the report's graph links absolute on triaged's external URL and shows the
// graphs as pictures after the Metrics section, which Mattermost fetches; without an external
// URL it takes the links out, since a path would lead into Mattermost itself.
func mmGraphs(doc string, rep *triaged.Report, externalURL string) string {
	base := strings.TrimRight(externalURL, "/")
	if base == "" {
		return graphLinkRE.ReplaceAllString(doc, "")
	}
	doc = graphLinkRE.ReplaceAllStringFunc(doc, func(s string) string {
		m := graphLinkRE.FindStringSubmatch(s)
		return m[1] + string(link("graph", base+m[2]))
	})
	graphs := chatGraphs(rep, externalURL, mmMaxImageURL)
	if len(graphs) == 0 {
		return doc
	}
	var pics []string
	for _, g := range graphs {
		pics = append(pics, "![Graph of "+string(md(truncate(200, g.Title)))+"]("+destinationEscaper.Replace(g.URL)+")")
	}
	block := strings.Join(pics, "\n") + "\n"
	start := strings.Index(doc, "\n### Metrics\n")
	if start < 0 {
		return strings.TrimRight(doc, "\n") + "\n\n" + block
	}
	end := strings.Index(doc[start+1:], "\n### ")
	if end < 0 {
		return strings.TrimRight(doc, "\n") + "\n\n" + block
	}
	at := start + 1 + end
	return doc[:at] + "\n" + block + doc[at:] // after the section's last line and a blank one
}

// mmMaxImageURL bounds a picture's URL in a message, so one long name cannot take the post.
const mmMaxImageURL = 2048
