package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/notify"
)

// topology is a real topology on an in-process NATS server.
func topology(t *testing.T) (jetstream.JetStream, broker.Names, *broker.Topology) {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Server(t))
	names := broker.MustNames("triaged")
	topo, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions())
	if err != nil {
		t.Fatal(err)
	}
	return js, names, topo
}

// publish puts a report on the reports stream and returns its reference.
func publish(t *testing.T, js jetstream.JetStream, names broker.Names, rep *triaged.Report) triaged.ReportRef {
	t.Helper()
	data, err := triaged.EncodeReport(rep)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: names.ReportSubject(rep.Event, rep.Severity), Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return triaged.ReportRef{ID: rep.ID, Event: rep.Event, Severity: rep.Severity, At: rep.TriagedAt, Seq: ack.Sequence}
}

// TestIncidentPage reads an incident as the triage worker stores it: every report in the
// timeline with what changed, an expired one said to be so, links only when http(s), and the
// problems a wrong id or an unknown incident are named with their status.
func TestIncidentPage(t *testing.T) {
	js, names, topo := topology(t)
	ctx := context.Background()
	id := "20261126-higherrorrate-1a2b3c"
	opened := report(id, 1, triaged.EventOpened, triaged.P3, "P3 MEDIUM · HighErrorRate · checkout · 1 alert firing")
	opened.Status = triaged.ReportInvestigating
	updated := report(id, 2, triaged.EventUpdated, triaged.P2, "P2 HIGH · HighErrorRate · checkout · 3 alerts firing")
	updated.AlertsFiring, updated.Changes, updated.Status = 3, []string{"2 more alerts joined (b, c)"}, triaged.ReportInvestigating
	updated.Links = triaged.Links{Alertmanager: "http://am.example.com/#/alerts", Silence: "javascript:alert(1)"}
	updated.Runbook = &triaged.Runbook{Title: "Errors", URL: "javascript:alert(2)", Steps: []string{"look"}}
	updated.Metrics = []triaged.MetricEvidence{{Name: "alert", Query: "rate(x[5m])", Now: ptr(0.125), Unit: "ratio", HasGraph: true, Graph: triaged.GraphPath(id, "alert")}}

	inc := triaged.Incident{ID: id, State: triaged.IncidentOpen, Severity: triaged.P2, OpenedAt: t0, UpdatedAt: t0.Add(time.Hour),
		Service: triaged.Service{Name: "checkout"}, Seq: 3,
		Members: []triaged.Member{{Fingerprint: "f1", Status: triaged.StatusFiring, Severity: triaged.P2, Rule: "errors",
			Labels:       map[string]string{"alertname": "HighErrorRate", "instance": "a"},
			Annotations:  map[string]string{"summary": "errors", "runbook_url": "https://runbooks.example.com/e", "dashboard": "javascript:alert(3)", "grafana": "/grafana/d/abc"},
			GeneratorURL: "javascript:alert(4)"}},
		Reports: []triaged.ReportRef{
			publish(t, js, names, opened),
			publish(t, js, names, updated),
			{ID: id + ".3.updated", Event: triaged.EventUpdated, Severity: triaged.P2, At: t0.Add(time.Hour), Seq: 999}, // gone
		}}
	data, _ := json.Marshal(inc)
	if _, err := topo.Incidents.Put(ctx, "g.grp", data); err != nil {
		t.Fatal(err)
	}
	if _, err := topo.Incidents.Put(ctx, triaged.IncidentIndexKey(id), []byte("g.grp")); err != nil {
		t.Fatal(err)
	}
	x := NewIndex(100, 0, nil)
	thread, _ := json.Marshal(map[string]any{"thread": notify.Thread{Channel: "C1", RootID: "1", RootURL: "https://chat.example.com/p/1"}})
	x.Thread("slack."+id, thread, false)
	u, err := New(Options{Index: x, Events: NewHub(x, HubOptions{}), Incidents: topo.Incidents, Reports: topo.Reports, Now: func() time.Time { return t0.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}

	code, body := get(t, u, "/incidents/"+id)
	if code != 200 {
		t.Fatalf("GET: %d %s", code, body)
	}
	for _, want := range []string{
		"<title>P2 HIGH · HighErrorRate · checkout · 3 alerts firing · triaged</title>",
		`<li data-event="opened">`, `<li data-event="updated">`,
		"<li>2 more alerts joined (b, c)</li>", `<li class="diff">severity P3 → P2</li>`, `<li class="diff">alerts firing 1 → 3</li>`,
		"(report " + id + ".3.updated has expired from the reports stream)",
		`<a href="http://am.example.com/#/alerts" rel="noopener noreferrer">Alertmanager</a>`,
		`Silence this alert: <span class="refused" title="not an http(s) link: shown as text">javascript:alert(1)</span>`,
		`<a href="https://chat.example.com/p/1" rel="noopener noreferrer" class="chat">Chat message (slack)</a>`,
		`<a href="https://runbooks.example.com/e" rel="noopener noreferrer">https://runbooks.example.com/e</a>`,
		`<span class="muted">dashboard:</span> javascript:alert(3)`,
		`<span class="refused">javascript:alert(4)</span>`,
		`Errors <span class="refused">javascript:alert(2)</span>`,
		`<img src="/api/v1/incidents/` + id + `/graphs/alert.png"`, "now 12.5 %",
		`data-incident="` + id + `"`, "/static/incident.js",
		"this triaged has no postmortem renderer",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, `href="javascript`) {
		t.Error("a javascript: link made it into an href")
	}

	// Behind a proxy at /triaged the page's own paths go under it; a path an alert carries
	// is left as the alert wrote it.
	prefixed, err := New(Options{Base: "/triaged", Index: x, Events: NewHub(x, HubOptions{}), Incidents: topo.Incidents, Reports: topo.Reports})
	if err != nil {
		t.Fatal(err)
	}
	_, body = get(t, prefixed, "/incidents/"+id)
	for _, want := range []string{
		`<img src="/triaged/api/v1/incidents/` + id + `/graphs/alert.png"`,
		`<a href="/triaged/api/v1/incidents/` + id + `/report.md">`,
		`src="/triaged/static/incident.js"`, `<a href="/triaged/">← Incidents</a>`, `<a href="/triaged/rules"`,
		`<a href="/grafana/d/abc" rel="noopener noreferrer">/grafana/d/abc</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page under /triaged lacks %s", want)
		}
	}

	for _, tc := range []struct {
		id   string
		code int
		want string
	}{
		{"no-such-incident", 404, `no incident &#34;no-such-incident&#34;`},
		{"bad..id", 400, "may not start or end it or follow another"},
		{strings.Repeat("x", 200), 400, "want 1 to 128 characters"},
	} {
		code, body := get(t, u, "/incidents/"+tc.id)
		if code != tc.code || !strings.Contains(body, `<p class="error" role="alert">`) || !strings.Contains(body, tc.want) {
			t.Errorf("GET /incidents/%.20s: %d, want %d saying %q", tc.id, code, tc.code, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestIndexWatchesTheBuckets runs the watch against real buckets: what the bucket held before
// and what it gets after both show, and the chat link from the deliveries bucket.
func TestIndexWatchesTheBuckets(t *testing.T) {
	_, _, topo := topology(t)
	ctx := context.Background()
	if _, err := topo.Incidents.Put(ctx, "g.before", incidentJSON(t, "before", "open", triaged.P1, 1, t0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	x := NewIndex(100, 0, nil)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = x.Watch(wctx, topo.Incidents, topo.Deliveries, nil) })
	defer func() { stop(); wg.Wait() }()
	testkit.Eventually(t, 5*time.Second, "the bucket's contents loaded", x.Loaded)

	if _, err := topo.Incidents.Put(ctx, "g.after", incidentJSON(t, "after", "open", triaged.P2, 1, t0.Add(time.Minute), 1, 0)); err != nil {
		t.Fatal(err)
	}
	thread, _ := json.Marshal(map[string]any{"thread": notify.Thread{Channel: "C1", RootID: "1", RootURL: "https://chat.example.com/p/1"}})
	if _, err := topo.Deliveries.Put(ctx, "slack.after", thread); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the new incident and its chat link", func() bool {
		q := x.Query(Filter{}, 0, 10)
		return q.Matched == 2 && len(q.Links[0]) == 1 && q.Rows[0].ID == "after"
	})
	if err := topo.Incidents.Delete(ctx, "g.before"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the deleted incident gone", func() bool {
		return fmt.Sprint(x.Query(Filter{}, 0, 10).Matched) == "1"
	})
}
