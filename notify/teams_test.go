package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/chattest"
	"github.com/triaged/triaged/internal/golden"
)

func indentJSON(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// TestTeamsCards: each report is one card the fake workflow accepts (it checks the schema
// essentials and the size), rendered as the golden files show.
func TestTeamsCards(t *testing.T) {
	tm := chattest.NewTeams(t)
	sink := openPlanned(t, SinkConfig{Name: "teams", Type: "teams", URLFile: secretFile(t, tm.WebhookURL())})
	for _, tc := range []struct {
		golden string
		rep    *triaged.Report
	}{
		{"teams_opened_p1.json", openedP1()},
		{"teams_resolved_p1.json", resolvedP1()},
		{"teams_hostile.json", hostile()},
		{"teams_metrics_p1.json", measuredP1()},
		{"teams_prometheus_down_p1.json", prometheusDownP1()},
		{"teams_metrics_pending_p1.json", metricsPendingP1()},
		{"teams_metrics_updated_p1.json", measuredUpdateP1()},
	} {
		if th, err := sink.Deliver(context.Background(), Delivery{Report: tc.rep}); err != nil || th != nil {
			t.Fatalf("Deliver(%s) = %v, %v", tc.rep.ID, th, err)
		}
		cards := tm.Cards()
		golden.Check(t, "testdata/"+tc.golden, indentJSON(t, cards[len(cards)-1]))
	}
}

// TestTeamsHostile: text from labels neither formats, links, nor tags anyone in a card.
func TestTeamsHostile(t *testing.T) {
	rep := hostile()
	rep.Summary += " https://evil.example/x www.evil.example <at>Everyone</at>"
	data, err := TeamsCard(rep, testExternalURL)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "text" || k == "value") {
					texts = append(texts, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var msg any
	if err := json.Unmarshal(data, &msg); err != nil {
		t.Fatal(err)
	}
	walk(msg)
	all := strings.ReplaceAll(strings.Join(texts, "\n"), `\]`, "") // an escaped bracket closes nothing
	for _, bad := range []string{"](http", "https://evil", "www.evil", "<at>", "**bold**", "<script>"} {
		if strings.Contains(all, bad) {
			t.Errorf("card text holds %q", bad)
		}
	}
	if !strings.Contains(string(data), `"url":"`+testExternalURL+`/api/v1/incidents/`) {
		t.Error("no button to the full report")
	}
}

// TestTeamsTruncated: a report too large for one card keeps its headline, facts and first
// sections, says what was left out, and stays within 28 KB.
func TestTeamsTruncated(t *testing.T) {
	tm := chattest.NewTeams(t)
	sink := openPlanned(t, SinkConfig{Name: "teams", Type: "teams", URLFile: secretFile(t, tm.WebhookURL())})
	rep := updatedP1()
	for i := 0; i < 300; i++ {
		rep.Alerts = append(rep.Alerts, checkoutAlert("ffff", strings.Repeat("10.0.0.1:", 20), triaged.P2, "r"))
	}
	rep.Observations = []string{strings.Repeat("long observation ", 1000)}
	for i := 0; i < 20; i++ {
		lines := make([]string, 30)
		for j := range lines {
			lines[j] = strings.Repeat("log line ", 20)
		}
		rep.Logs = append(rep.Logs, triaged.LogTail{Source: "pod-" + strings.Repeat("x", i), Lines: lines})
	}
	if _, err := sink.Deliver(context.Background(), Delivery{Report: rep}); err != nil {
		t.Fatal(err)
	}
	card := tm.Cards()[0]
	if len(card) > chattest.TeamsMaxBytes || !bytes.Contains(card, []byte("Report truncated to fit one card")) ||
		!bytes.Contains(card, []byte(`"title":"Full report"`)) || !bytes.Contains(card, []byte("What changed")) {
		t.Errorf("card of %d bytes:\n%s", len(card), indentJSON(t, card))
	}
}

func TestTeamsErrors(t *testing.T) {
	for _, tc := range []struct {
		reply     chattest.Reply
		permanent bool
		after     time.Duration
		msg       string
	}{
		{chattest.Reply{Status: 429, RetryAfter: "30"}, false, 30 * time.Second, "429"},
		{chattest.Reply{Status: 400, Body: `{"error":{"code":"InvalidRequestContent","message":"The card is not valid."}}`}, true, 0,
			"400 Bad Request: InvalidRequestContent The card is not valid."},
		{chattest.Reply{Status: 403, Body: `{"error":{"code":"WorkflowTriggerIsNotEnabled","message":"The workflow is disabled."}}`}, true, 0,
			"WorkflowTriggerIsNotEnabled"},
		{chattest.Reply{Status: 502}, false, 0, "502 Bad Gateway"},
	} {
		tm := chattest.NewTeams(t)
		sink := openPlanned(t, SinkConfig{Name: "teams", Type: "teams", URLFile: secretFile(t, tm.WebhookURL())})
		tm.Fail(tc.reply)
		_, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
		after, _ := RetryAfter(err)
		if err == nil || IsPermanent(err) != tc.permanent || after != tc.after || !strings.Contains(err.Error(), tc.msg) ||
			strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "/workflows/") {
			t.Errorf("reply %d: %v (permanent %v, after %v); want permanent %v, after %v, saying %q and not the URL's path",
				tc.reply.Status, err, IsPermanent(err), after, tc.permanent, tc.after, tc.msg)
		}
	}
	// The fake's own checks: a URL without the signature is refused as the workflow would.
	tm := chattest.NewTeams(t)
	sink := openPlanned(t, SinkConfig{Name: "teams", Type: "teams", URLFile: secretFile(t, tm.URL+"/workflows/x")})
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); !IsPermanent(err) ||
		!strings.Contains(err.Error(), http.StatusText(http.StatusUnauthorized)) {
		t.Errorf("unsigned URL: %v", err)
	}
}

// TestTeamsTemplate: a teams sink's template writes the card's sections, one per heading, with
// alert text as inert as in the built-in card; the headline, facts and buttons stay.
func TestTeamsTemplate(t *testing.T) {
	tm := chattest.NewTeams(t)
	tmpl := filepath.Join(t.TempDir(), "teams.tmpl")
	if err := os.WriteFile(tmpl, []byte("Paged by triaged.\n\n## Our summary\n{{.Summary}}\n\n## Who\nTeam {{.Team}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := openPlanned(t, SinkConfig{Name: "teams", Type: "teams", URLFile: secretFile(t, tm.WebhookURL()), Template: tmpl})
	rep := hostile()
	rep.Summary += " https://evil.example/x"
	if _, err := sink.Deliver(context.Background(), Delivery{Report: rep}); err != nil {
		t.Fatal(err)
	}
	cards := tm.Cards()
	if len(cards) != 1 {
		t.Fatalf("the workflow accepted %d cards, want 1", len(cards))
	}
	card := string(cards[0])
	for _, want := range []string{`"text":"Paged by triaged."`, `"text":"Our summary"`, `"text":"Who"`, `"FactSet"`, `Action.OpenUrl`} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %s:\n%s", want, card)
		}
	}
	for _, bad := range []string{"Recent changes", "https://evil.example"} {
		if strings.Contains(card, bad) {
			t.Errorf("the card has %q, which the template does not print or must stay inert:\n%s", bad, card)
		}
	}
	if _, err := PlanSink(SinkConfig{Name: "teams", Type: "teams", URLFile: "u", Template: tmpl}); err != nil {
		t.Errorf("a teams sink refused its template: %v", err)
	}
}
