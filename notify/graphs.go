package notify

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// maxChatImages bounds the graphs a chat message shows as pictures: the alert's expression and
// the first catalog queries. The others keep their links.
const maxChatImages = 10

// chatGraph is a metric's graph as a chat service can fetch it.
type chatGraph struct {
	URL   string // absolute http(s)
	Title string // the metric's name, plain text
	Alt   string // what the graph shows, plain text
}

// graphURL is the absolute URL of a metric's graph on triaged, or "" when there is no graph or
// triaged's external URL (--web.external-url) is unknown: a chat service fetches a picture
// itself, and a path alone leads nowhere from it.
func graphURL(externalURL string, m triaged.MetricEvidence) string {
	if externalURL == "" || m.Graph == "" || !strings.HasPrefix(m.Graph, "/") || strings.HasPrefix(m.Graph, "//") {
		return ""
	}
	raw := strings.TrimRight(externalURL, "/") + m.Graph
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return raw
}

// chatGraphs are the graphs of rep that a chat service can fetch, at most maxChatImages, each
// URL at most maxURL characters (UTF-16 code units, as Slack counts).
func chatGraphs(rep *triaged.Report, externalURL string, maxURL int) []chatGraph {
	if rep == nil {
		return nil
	}
	var out []chatGraph
	for _, m := range rep.Metrics {
		u := graphURL(externalURL, m)
		if u == "" || slackLen(u) > maxURL || m.Error != "" {
			continue
		}
		title := m.Name
		if m.Name == triaged.AlertExpressionMetric {
			title = "the alert's expression"
		}
		alt := "Graph of " + title + ": " + metricValue(m.Unit, m.Now)
		if !m.At.IsZero() {
			alt += " at " + m.At.UTC().Format("15:04Z")
		}
		if m.Query != "" {
			alt += ", query " + m.Query
		}
		out = append(out, chatGraph{URL: u, Title: flatten(title), Alt: flatten(alt)})
		if len(out) == maxChatImages {
			break
		}
	}
	return out
}

// cutUTF16 shortens plain text to at most n UTF-16 code units, marking the cut with "…".
func cutUTF16(s string, n int) string {
	if slackLen(s) <= n {
		return s
	}
	head := cutAt(s, n-1)
	return head + "…"
}

// metricLine is one metric in plain text, for the chat cards that do not render the report's
// template: "error_ratio: 12.3 % at 09:27Z, 0.41 % 30 min before (+2910 %) ▁▂▃▅▇ · query …". ref is
// the day the times are read against (the incident's start).
func metricLine(m triaged.MetricEvidence, ref time.Time) string {
	name := m.Name
	if name == triaged.AlertExpressionMetric {
		name = "Alert expression " + cmpOr(m.Expr, m.Query)
	}
	if m.Error != "" {
		return name + ": not collected: " + m.Error
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", name, metricValue(m.Unit, m.Now))
	if !m.At.IsZero() {
		fmt.Fprintf(&b, " at %s", clock(ref, m.At))
	}
	fmt.Fprintf(&b, ", %s %s before", metricValue(m.Unit, m.Before), offset(m.BeforeOffsetMinutes))
	if c := changePercent(m.ChangePercent); c != "" {
		fmt.Fprintf(&b, " (%s)", c)
	}
	if t := threshold(m); t != "" {
		fmt.Fprintf(&b, "; threshold %s", t)
	}
	if m.CrossedAt != nil {
		fmt.Fprintf(&b, ", crossed at %s", clock(ref, *m.CrossedAt))
	}
	if m.Trend != "" {
		fmt.Fprintf(&b, "; %s", m.Trend)
	}
	if m.Sparkline != "" {
		fmt.Fprintf(&b, " %s", m.Sparkline)
	}
	if m.Name != triaged.AlertExpressionMetric && m.Query != "" {
		fmt.Fprintf(&b, " · query %s", m.Query)
	}
	return b.String()
}
