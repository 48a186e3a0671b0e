package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/browsertest"
	"github.com/triaged/triaged/internal/slacktest"
	"github.com/triaged/triaged/internal/testkit"
)

// browserTimeout bounds all the actions of one browser, shared by the subtests of a test.
const browserTimeout = time.Minute

// browser is one headless Chromium for the subtests of a test (starting one takes seconds),
// with what its pages' scripts reported: exceptions, console messages and browser log entries
// (a CSP violation is one).
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
	// current is the address of the daemon the subtest's page is on: a network error for an
	// earlier subtest's daemon, gone now, is no problem of this page (the live updates' shared
	// worker of that page may still try to reach it a moment).
	current string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("starts chromium")
	}
	b := &browser{ctx: browsertest.New(t, browserTimeout)}
	chromedp.Listen(b.ctx, func(ev any) {
		var what string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			what = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				what += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value))
			}
			what = fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " "))
		case *cdplog.EventEntryAdded:
			b.mu.Lock()
			elsewhere := e.Entry.URL != "" && b.current != "" && !strings.HasPrefix(e.Entry.URL, b.current+"/")
			b.mu.Unlock()
			if elsewhere {
				return
			}
			what = fmt.Sprintf("log %s %s: %s (%s)", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
		default:
			return
		}
		b.mu.Lock()
		b.problems = append(b.problems, what)
		b.mu.Unlock()
	})
	return b
}

// page is the browser's tab in one subtest, on one running triaged.
type page struct {
	*browser
	t   *testing.T
	ctx context.Context
	url string
}

func (b *browser) page(t *testing.T, r *running) *page {
	b.mu.Lock()
	b.problems = nil
	b.current = r.url
	b.mu.Unlock()
	return &page{browser: b, t: t, ctx: b.ctx, url: r.url}
}

// noProblems fails the test with every exception, console message or log entry seen: the pages
// write none when all is well.
func (p *page) noProblems() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.problems {
		p.t.Errorf("browser reported %s", s)
	}
}

func (p *page) open(path string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(p.url+path), chromedp.WaitReady("body")); err != nil {
		p.t.Fatalf("open %s: %v", path, err)
	}
}

// eval runs a JavaScript expression and decodes its value into out.
func (p *page) eval(js string, out any) {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]byte](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		p.t.Fatalf("evaluate %s: %v (%s)", js, err, raw)
	}
}

func (p *page) str(js string) string {
	p.t.Helper()
	var s string
	p.eval(js, &s)
	return s
}

// waitFor waits until the expression is true in the page.
func (p *page) waitFor(what, js string) {
	p.t.Helper()
	testkit.Eventually(p.t, 15*time.Second, what, func() bool {
		var ok bool
		raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]byte]("Boolean("+js+")"))
		return err == nil && json.Unmarshal(raw, &ok) == nil && ok
	})
}

// waitLive waits until the page's event stream is connected, and marks the window, so that a
// reload would show (the mark would be gone).
func (p *page) waitLive() {
	p.t.Helper()
	p.waitFor("the page's live updates connected", `document.body.dataset.live === "connected"`)
	p.eval(`window.notReloaded = true`, new(bool))
}

func (p *page) notReloaded() {
	p.t.Helper()
	var ok bool
	p.eval(`window.notReloaded === true`, &ok)
	if !ok {
		p.t.Error("the page was reloaded: the live update must change it in place")
	}
}

// tabTo presses Tab until the element sel is focused, through the filter form, and checks that
// the focus is visible.
func (p *page) tabTo(what, sel string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`)); err != nil {
		p.t.Fatal(err)
	}
	var visited []string
	for range 30 {
		if err := chromedp.Do(p.ctx, chromedp.KeyEvent("\t")); err != nil {
			p.t.Fatal(err)
		}
		var at struct {
			Tag     string `json:"tag"`
			Match   bool   `json:"match"`
			Outline string `json:"outline"`
		}
		p.eval(fmt.Sprintf(`(() => { const el = document.activeElement; const cs = getComputedStyle(el);
			return {tag: el.tagName + (el.name ? "[" + el.name + "]" : ""), match: el.matches(%q), outline: cs.outlineStyle + " " + cs.outlineWidth}; })()`, sel), &at)
		visited = append(visited, at.Tag)
		if at.Match {
			if strings.HasPrefix(at.Outline, "none") || strings.HasSuffix(at.Outline, " 0px") {
				p.t.Errorf("%s focused without a visible outline (%s)", what, at.Outline)
			}
			for _, want := range []string{"SELECT[state]", "SELECT[severity]", "INPUT[service]", "INPUT[team]", "BUTTON"} {
				if !slices.Contains(visited, want) {
					p.t.Errorf("Tab did not pass %s on the way to %s: %v", want, what, visited)
				}
			}
			return
		}
	}
	p.t.Errorf("30 Tabs did not reach %s: %v", what, visited)
}

// TestWebUIIncidents drives the incidents pages in one browser: each subtest runs its own
// triaged.
func TestWebUIIncidents(t *testing.T) {
	b := newBrowser(t)
	t.Run("a new incident appears live", func(t *testing.T) { incidentsPageShowsANewIncidentLive(t, b) })
	t.Run("the incident page follows its timeline", func(t *testing.T) { incidentPageShowsItsTimeline(t, b) })
	t.Run("alert content is inert", func(t *testing.T) { alertContentIsInert(t, b) })
}

// incidentsPageShowsANewIncidentLive opens the incidents page on a triaged without incidents,
// sends a webhook, and sees the incident's row, the page title's count and the link to the
// message the Slack sink posted appear without a reload.
func incidentsPageShowsANewIncidentLive(t *testing.T, b *browser) {
	slk := slacktest.New(t, slackToken, slackChannels...)
	r := start(t, app.Options{ConfigFile: slackConfig(t, slk, "50ms", "")})
	p := b.page(t, r)
	p.open("/")
	p.waitLive()
	if got := p.str(`document.title`); got != "triaged" {
		t.Errorf("title before any incident %q, want %q", got, "triaged")
	}
	if got := p.str(`document.getElementById("incidents-summary").textContent`); !strings.Contains(got, "No open incidents") {
		t.Errorf("summary before any incident %q", got)
	}

	r.postFile(t, "firing-3-alerts.json")
	p.waitFor("the new incident's row", `document.querySelector("#incidents tbody tr[data-incident]")`)
	p.waitFor("the title counting it", `document.title === "(1 P2) triaged"`)
	p.notReloaded()
	row := p.str(`document.querySelector("#incidents tbody tr").innerText`)
	for _, want := range []string{"P2", "payments-api", "3 alerts firing", "open", "3 / 3 firing"} {
		if !strings.Contains(strings.ReplaceAll(row, "\u2009", " "), want) {
			t.Errorf("row lacks %q: %q", want, row)
		}
	}
	if n := p.str(`String(document.querySelectorAll("#incidents tbody tr").length)`); n != "1" {
		t.Errorf("%s rows, want 1", n)
	}
	p.waitFor("the Slack message's link", `document.querySelector("#incidents a.chat")`)
	p.notReloaded()
	roots := slk.Roots("incidents")
	if len(roots) != 1 {
		t.Fatalf("%d Slack messages, want 1", len(roots))
	}
	if got, want := p.str(`document.querySelector("#incidents a.chat").href`), slk.Permalink(slk.ChannelID("incidents"), roots[0].TS); got != want {
		t.Errorf("chat link %q, want %q", got, want)
	}

	// A filter is a plain GET form; the filtered page goes live too.
	p.open("/?state=resolved")
	p.waitLive()
	if got := p.str(`document.getElementById("no-incidents") ? "none" : "rows"`); got != "none" {
		t.Errorf("state=resolved shows %s, want none", got)
	}
	p.open("/?state=open&severity=P2&service=payments-api")
	p.waitLive()
	p.waitFor("the row under matching filters", `document.querySelector("#incidents tbody tr[data-incident]")`)
	p.open("/")
	p.waitLive()
	r.postFile(t, "firing-1-alert.json")
	r.postFile(t, "firing-10-alerts.json")
	p.waitFor("three incidents", `document.querySelectorAll("#incidents tbody tr").length === 3`)
	p.waitFor("the title counting all three", `/^\(\d P\d( · \d P\d)+\) triaged$/.test(document.title)`)
	p.notReloaded()
	p.tabTo("the first incident's link", "#incidents a.headline")
	browsertest.Screenshot(t, p.ctx, "incidents")
	p.noProblems()
}

// incidentPageShowsItsTimeline opens an incident's page and follows it live through an update
// and its resolution.
func incidentPageShowsItsTimeline(t *testing.T, b *browser) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce)})
	r.postFile(t, "firing-3-alerts.json")
	r.waitReports(t, 1)
	p := b.page(t, r)
	p.open("/")
	// Going live swaps the rows once (the page fetches itself for what it missed): click after
	// that, or the click may find the row gone.
	p.waitFor("the rows swapped once live", `Number(document.body.dataset.refreshed || 0) >= 1`)
	p.waitFor("the incident's row", `document.querySelector("#incidents a.headline")`)
	if err := chromedp.Do(p.ctx, chromedp.Click("#incidents a.headline"), chromedp.WaitVisible("#timeline")); err != nil {
		t.Fatalf("open the incident: %v", err)
	}
	p.waitLive()
	if got := p.str(`String(document.querySelectorAll("#timeline > li").length)`); got != "1" {
		t.Fatalf("%s timeline entries, want 1 (opened)", got)
	}

	r.postFile(t, "firing-mixed-1-resolved-2-firing.json")
	p.waitFor("the update in the timeline", `document.querySelectorAll("#timeline > li").length === 2`)
	r.postFile(t, "resolved-3-alerts.json")
	p.waitFor("the resolution in the timeline", `document.querySelector("#timeline > li[data-event=resolved]")`)
	p.notReloaded()
	events := p.str(`Array.from(document.querySelectorAll("#timeline > li")).map(li => li.dataset.event).join(" ")`)
	if events != "opened updated resolved" {
		t.Errorf("timeline %q, want %q", events, "opened updated resolved")
	}
	timeline := p.str(`document.getElementById("timeline").innerText`)
	for _, want := range []string{"alerts firing 3 → 2", "status INVESTIGATING → RESOLVED"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	if got := p.str(`document.querySelector(".facts-row .state").textContent`); !strings.HasPrefix(got, "resolved") {
		t.Errorf("state %q, want resolved", got)
	}
	for _, sel := range []string{"#members tbody tr", `a[href$="/postmortem.md"]`, "#evidence-h", "details pre.postmortem"} {
		p.waitFor(sel, fmt.Sprintf("document.querySelector(%q)", sel))
	}
	browsertest.Screenshot(t, p.ctx, "incident")
	p.noProblems()
}

// hostile is a webhook whose labels, annotations and links try to run script in the UI: each
// payload would set window.xss (or the title) if it ran.
var hostile = []byte(`{"receiver":"webhook","status":"firing","alerts":[{"status":"firing",` +
	`"labels":{"alertname":"<img src=x onerror=\"window.xss=1;document.title='pwned'\">","service":"<script>window.xss=2</script>","severity":"critical","team":"<b onmouseover=window.xss=3>t</b>"},` +
	`"annotations":{"summary":"<img src=x onerror=window.xss=4>","runbook_url":"javascript:window.xss=5","dashboard":" JaVaScRiPt:window.xss=6","description":"<svg onload=window.xss=7>"},` +
	`"startsAt":"2026-11-26T15:08:31.882Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"javascript:window.xss=8","fingerprint":"47415a294d25ffff"}],` +
	`"groupLabels":{"alertname":"<img src=x onerror=\"window.xss=1;document.title='pwned'\">"},"commonLabels":{},"commonAnnotations":{},` +
	`"externalURL":"javascript:window.xss=9//","version":"4","groupKey":"{}:{alertname=\"<img>\"}","truncatedAlerts":0}`)

// inert checks that nothing of the hostile alert ran or became markup on the page: no payload
// set its flag or the title, no element carries an event handler or a javascript: link, no
// script is inline or from elsewhere, and the payloads are shown as text.
func (p *page) inert(where string, shown ...string) {
	p.t.Helper()
	var got struct {
		XSS      any      `json:"xss"`
		Title    string   `json:"title"`
		Handlers []string `json:"handlers"`
		JSLinks  []string `json:"jsLinks"`
		Scripts  []string `json:"scripts"`
		Markup   int      `json:"markup"`
		Text     string   `json:"text"`
	}
	p.eval(`(() => {
		const all = Array.from(document.querySelectorAll("*"));
		return {
			xss: window.xss === undefined ? null : window.xss,
			title: document.title,
			handlers: all.flatMap(el => Array.from(el.attributes).filter(a => a.name.startsWith("on")).map(a => el.tagName + " " + a.name)),
			jsLinks: all.flatMap(el => ["href", "src", "action", "formaction"].map(n => el.getAttribute(n)))
				.filter(v => v !== null && !/^(https?:\/\/|\/(?![\/\\])|#|\?)/i.test(v.trim())),
			scripts: Array.from(document.scripts).map(s => s.getAttribute("src") || "inline: " + s.textContent).filter(s => !s.startsWith("/static/")),
			markup: document.querySelectorAll("img[src=x], svg, b, main script").length,
			text: document.body.innerText,
		};
	})()`, &got)
	if got.XSS != nil || strings.Contains(got.Title, "pwned") {
		p.t.Errorf("%s: a payload ran: window.xss=%v, title %q", where, got.XSS, got.Title)
	}
	for _, bad := range [][]string{got.Handlers, got.JSLinks, got.Scripts} {
		if len(bad) > 0 {
			p.t.Errorf("%s: %q in the DOM", where, bad)
		}
	}
	if got.Markup > 0 {
		p.t.Errorf("%s: %d elements made of the alert's text", where, got.Markup)
	}
	for _, s := range shown {
		if !strings.Contains(got.Text, s) {
			p.t.Errorf("%s does not show %q as text", where, s)
		}
	}
}

// alertContentIsInert sends an alert carrying markup and javascript: links and checks that both
// pages show them as text and run none of them.
func alertContentIsInert(t *testing.T, b *browser) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce)})
	p := b.page(t, r)
	p.open("/")
	p.waitLive()
	r.post(t, hostile)
	p.waitFor("the hostile incident's row, live", `document.querySelector("#incidents a.headline")`)
	p.inert("incidents page", `<img src=x onerror="window.xss=1;`) // the headline cuts the alertname at 40 characters
	if err := chromedp.Do(p.ctx, chromedp.Click("#incidents a.headline"), chromedp.WaitVisible("#members")); err != nil {
		t.Fatalf("open the incident: %v", err)
	}
	p.waitLive()
	p.inert("incident page", `<img src=x onerror=window.xss=4>`, "javascript:window.xss=5", "JaVaScRiPt:window.xss=6",
		"javascript:window.xss=8", "<svg onload=window.xss=7>", "<script>window.xss=2</script>", "<b onmouseover=window.xss=3>t</b>")
	p.noProblems()
}

// TestShutdownEndsLiveStreams holds a live-updates stream open while triaged shuts down: the
// HTTP server's graceful shutdown waits for open requests, so the stream must end with it, not
// make the shutdown run into its timeout.
func TestShutdownEndsLiveStreams(t *testing.T) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce), ShutdownTimeout: 5 * time.Second})
	resp, err := http.Get(r.url + "/ui/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET /ui/events: %d %q", resp.StatusCode, ct)
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || first != "retry: 3000\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	ended := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); ended <- err }()
	if err := r.stop(); err != nil {
		t.Fatalf("shutdown with a live stream open: %v", err)
	}
	if err := <-ended; err != nil {
		t.Errorf("the stream ended with %v, want its end", err)
	}
}
