package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/slacktest"
)

// manyGraphs is measuredP1 with 60 catalog queries that have graphs, one of them named so long
// that its graph's URL is over what Slack takes, and long logs that fill the message's blocks.
func manyGraphs() *triaged.Report {
	rep := measuredP1()
	for i := range 60 {
		m := rep.Metrics[1]
		m.Name = fmt.Sprintf("query_%02d", i)
		if i == 0 {
			m.Name = strings.Repeat("n", 3000)
		}
		m.Graph = triaged.GraphPath(rep.IncidentID, m.Name)
		rep.Metrics = append(rep.Metrics, m)
	}
	for i := range 80 {
		rep.Logs = append(rep.Logs, triaged.LogTail{Source: fmt.Sprint("pod-", i), Lines: []string{strings.Repeat("a long log line ", 60)}})
	}
	return rep
}

// The graphs show as image blocks that Slack accepts — an http(s) URL on triaged's external URL,
// alt text and title within Slack's limits, and no more than 50 blocks with the report — and not
// at all when triaged's external URL is unknown, since Slack cannot fetch a path.
func TestSlackGraphsAsImages(t *testing.T) {
	for _, tc := range []struct {
		name, external string
		rep            *triaged.Report
		images         int
	}{
		{"measured", "https://triaged.example", measuredP1(), 3},
		{"many graphs and a long report", "https://triaged.example", manyGraphs(), maxChatImages},
		{"no external URL", "", measuredP1(), 0},
		{"prometheus down", "https://triaged.example", prometheusDownP1(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := slacktest.New(t, testToken, "incidents")
			sink := openSlackSink(t, srv, SinkConfig{Channel: "incidents"}, tc.external)
			th, err := sink.Deliver(context.Background(), Delivery{Report: tc.rep})
			if err != nil {
				t.Fatalf("Slack refused the report: %v", err)
			}
			replies := srv.Replies("incidents", th.RootID)
			if len(replies) != 1 {
				t.Fatalf("%d replies, want 1", len(replies))
			}
			images := 0
			for _, b := range replies[0].Blocks {
				if b.Type != "image" {
					continue
				}
				images++
				if !strings.HasPrefix(b.ImageURL, tc.external+"/api/v1/incidents/"+tc.rep.IncidentID+"/graphs/") {
					t.Errorf("image_url %.100q is not a graph on triaged", b.ImageURL)
				}
			}
			if images != tc.images {
				t.Errorf("%d image blocks, want %d", images, tc.images)
			}
			if strings.Contains(blocksText(replies[0]), "](/api/") {
				t.Error("the report shows a Markdown link Slack cannot follow")
			}
		})
	}
}

// A malformed image block is refused, as Slack refuses it: the fake checks what the renderer
// relies on.
func TestSlackRefusesAMalformedImage(t *testing.T) {
	r, err := NewSlackRenderer("", "https://triaged.example")
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Report(measuredP1())
	if err != nil {
		t.Fatal(err)
	}
	m.Channel = "incidents"
	if body, _ := encodeSlack(m); postRaw(t, slacktest.New(t, testToken, "incidents"), body) != "" {
		t.Fatal("the report with its images is refused as it is")
	}
	for _, breakIt := range []func(b *slackBlock){
		func(b *slackBlock) { b.AltText = "" },
		func(b *slackBlock) { b.ImageURL = "/api/v1/incidents/x/graphs/alert.png" },
		func(b *slackBlock) { b.AltText = strings.Repeat("a", slackMaxImageAlt+1) },
	} {
		bad := m
		bad.Blocks = append([]slackBlock(nil), m.Blocks...)
		last := bad.Blocks[len(bad.Blocks)-1]
		breakIt(&last)
		bad.Blocks[len(bad.Blocks)-1] = last
		srv := slacktest.New(t, testToken, "incidents")
		bad.Channel = "incidents"
		body, err := encodeSlack(bad)
		if err != nil {
			t.Fatal(err)
		}
		if got := postRaw(t, srv, body); got != "invalid_blocks" {
			t.Errorf("a broken image block got %q, want invalid_blocks", got)
		}
	}
}

// postRaw posts body with chat.postMessage and returns Slack's error, "" when it was accepted.
func postRaw(t *testing.T, srv *slacktest.Server, body []byte) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.APIURL()+"chat.postMessage", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Error
}
