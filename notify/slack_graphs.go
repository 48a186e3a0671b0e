package notify

import (
	"strings"

	"github.com/triaged/triaged"
)

// Slack's limits on an image block (https://api.slack.com/reference/block-kit/blocks#image).
const (
	slackMaxImageURL   = 3000
	slackMaxImageAlt   = 2000
	slackMaxImageTitle = 2000
)

// images are the image blocks of rep's graphs; none without triaged's external URL.
func (r *SlackRenderer) images(rep *triaged.Report) []slackBlock {
	var out []slackBlock
	for _, g := range chatGraphs(rep, r.external, slackMaxImageURL) {
		out = append(out, slackBlock{
			Type: "image", ImageURL: g.URL, AltText: cutUTF16(g.Alt, slackMaxImageAlt),
			Title: &slackText{Type: "plain_text", Text: cutUTF16(g.Title, slackMaxImageTitle)},
		})
	}
	return out
}

// sgraphLink is graphLink for Slack: a link to the graph on triaged, or nothing when triaged's
// external URL is unknown (Slack cannot follow a path).
func (r *SlackRenderer) sgraphLink(m triaged.MetricEvidence) mrkdwn {
	if u := graphURL(r.external, m); u != "" {
		return slink("graph", u)
	}
	return ""
}

// scodeList is codeList for Slack.
func scodeList(items []string, sep string) mrkdwn {
	out := make([]string, 0, len(items))
	for _, s := range items {
		if c := scode(s); c != "" {
			out = append(out, string(c))
		}
	}
	return mrkdwn(strings.Join(out, escapeMrkdwn(sep)))
}
