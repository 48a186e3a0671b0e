package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/browsertest"
	"github.com/triaged/triaged/internal/testkit"
)

// stagingRules decide the alerts of testdata/alertmanager/firing-3-alerts.json by staging-down.
const stagingRules = "default: P4\nrules:\n  - name: staging-down\n    when: environment == \"staging\" && alertname == \"TargetDown\"\n    severity: P2\n  - name: never\n    when: alertname == \"Nope\"\n    severity: P1\n"

// brokenRules does not compile: "lables" at line 2, column 21.
const brokenRules = "rules:\n  - {name: b, when: 'lables.x', severity: P1}\n"

// startWithToken runs a daemon whose write endpoints take tokenA, with stagingRules in force.
func startWithToken(t *testing.T) *running {
	t.Helper()
	dir := t.TempDir()
	token := writeFile(t, filepath.Join(dir, "api.token"), tokenA)
	rulesFile := writeFile(t, filepath.Join(dir, "team.rules.yml"), stagingRules)
	return start(t, app.Options{ConfigFile: configFile(t, reportAtOnce+"rules:\n  files: ["+rulesFile+"]\n"), AuthTokenFiles: []string{token}})
}

// js is v as a JavaScript literal.
func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// setInput sets a field's value as typing would, input event included.
func setInput(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.getElementById(%s); e.value = %s; e.dispatchEvent(new Event("input", {bubbles: true})); return true })()`, js(id), js(value))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err != nil {
		t.Fatalf("set #%s: %v", id, err)
	}
}

// waitText waits until the text of the first element matching selector contains every want,
// and returns it.
func waitText(t *testing.T, ctx context.Context, selector string, want ...string) string {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return null; const s = e.textContent; return %s.every(w => s.includes(w)) ? s : null })()`, js(selector), js(want))
	s, err := chromedp.Run(ctx, chromedp.Poll[string](expr, chromedp.WithPollingTimeout(8*time.Second)))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		t.Fatalf("%s never showed %q: %v; the page shows:\n%s", selector, want, err, got)
	}
	return s
}

func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("navigate %s: %d", url, resp.Status)
	}
}

// TestPlaygroundExplainsInTheBrowser: with bearer tokens the playground asks for one, then
// explains a pasted webhook (which rule decided) and shows a broken expression's position.
func TestPlaygroundExplainsInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	r := startWithToken(t)
	webhook, err := os.ReadFile("../testdata/alertmanager/firing-3-alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	// Alerts triage handled: the playground offers them from the history.
	if resp, body := send(t, "POST", r.url+"/api/v1/alerts", "Bearer "+tokenA, webhook); resp.StatusCode != 200 {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	testkit.Eventually(t, testTimeout, "recent alerts offered", func() bool {
		_, body := r.get(t, "/playground")
		return strings.Count(body, "<option data-alert=") == 3
	})
	ctx := browsertest.New(t, 30*time.Second)
	navigate(t, ctx, r.url+"/playground")
	// No token yet: the page asks for it, and explains nothing without it.
	waitText(t, ctx, "#pg-status", "needs a write token")
	setInput(t, ctx, "write-token", tokenA)
	if err := chromedp.Do(ctx, chromedp.Click("#token-form button")); err != nil {
		t.Fatal(err)
	}
	// The token given, the latest alert the page starts from is explained.
	waitText(t, ctx, "#pg-result", "Alert 1: TargetDown (firing)", "Decided by staging-down")
	// Another recent alert picked: explained in turn.
	pick := `(() => { const s = document.getElementById("pg-pick"); s.selectedIndex = 3; s.dispatchEvent(new Event("change")); return JSON.parse(s.selectedOptions[0].dataset.alert).labels.instance })()`
	instance, err := chromedp.Run(ctx, chromedp.Evaluate[string](pick))
	if err != nil || instance == "" {
		t.Fatalf("pick: %q %v", instance, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.getElementById("pg-alert").value.includes(%s)`, js(instance)), chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the picked alert (instance %s) is not in the text: %v", instance, err)
	}
	setInput(t, ctx, "pg-alert", string(webhook))
	got := waitText(t, ctx, "#pg-result", "Alert 3", "Decided by staging-down")
	if strings.Contains(got, "Alert 4") {
		t.Errorf("a webhook of 3 alerts explained as more: %s", got)
	}
	waitText(t, ctx, "#pg-result tr.decided-row", "staging-down", "matched · decided", "team.rules.yml:3:5")
	browsertest.Screenshot(t, ctx, "playground")

	// A candidate rule text that does not compile: its problem at its line and column.
	setInput(t, ctx, "pg-rules", brokenRules)
	waitText(t, ctx, "#pg-result .problems", "rules:2:21", "line 2, column 21", "lables")
	waitText(t, ctx, "#pg-status", "Not explained (422)")

	// Mended, the candidate decides.
	setInput(t, ctx, "pg-rules", "rules:\n  - {name: all-p1, when: 'true', severity: P1}\n")
	waitText(t, ctx, "#pg-result", "Decided by all-p1")
	waitText(t, ctx, "#pg-status", "candidate rules")
}

// TestUIBehindBasicAuth: with basic_auth_users every page answers 401 without credentials; with
// them the pages work, and the playground explains with the browser's credentials alone.
func TestUIBehindBasicAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	webConfig := writeFile(t, filepath.Join(dir, "web.yml"), "basic_auth_users:\n  oncall: "+string(hash)+"\n")
	rulesFile := writeFile(t, filepath.Join(dir, "team.rules.yml"), stagingRules)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("oncall:s3cret-pass"))
	r := startAuthenticated(t, app.Options{ConfigFile: configFile(t, "rules:\n  files: ["+rulesFile+"]\n"), WebConfigFile: webConfig}, basic)

	pages := []string{"/rules", "/playground", "/deploys", "/dead-letters", "/status", "/static/playground.js"}
	for _, p := range pages {
		for _, tc := range []struct {
			auth string
			code int
		}{{"", 401}, {"Basic " + base64.StdEncoding.EncodeToString([]byte("oncall:wrong")), 401}, {basic, 200}} {
			if resp, body := send(t, "GET", r.url+p, tc.auth, nil); resp.StatusCode != tc.code {
				t.Errorf("GET %s with %q: %d, want %d: %s", p, tc.auth, resp.StatusCode, tc.code, body)
			}
		}
	}
	if resp, _ := send(t, "POST", r.url+"/api/v1/deploys", basic, []byte(`{"service":"checkout","environment":"prod","version":"v42","commit":"abc123","author":"eve","url":"https://ci.example.com/run/42"}`)); resp.StatusCode/100 != 2 {
		t.Fatalf("deploy: %d", resp.StatusCode)
	}

	ctx := browsertest.New(t, 30*time.Second)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	// Without credentials the browser gets the 401 too: headless Chromium, which has no one to
	// ask for credentials, fails the navigation for it.
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(r.url+"/rules"))
	if (err == nil || !strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS")) && (resp == nil || resp.Status != http.StatusUnauthorized) {
		t.Fatalf("navigate without credentials: %v %v", resp, err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": basic}}); err != nil {
		t.Fatal(err)
	}
	navigate(t, ctx, r.url+"/playground")
	// The page's fetch carries the browser's credentials: no token asked for.
	waitText(t, ctx, "#pg-status", "Explained with the rules in force")
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#token-form").length`)); n != 0 {
		t.Error("the playground asked for a token under basic auth")
	}

	navigate(t, ctx, r.url+"/rules")
	waitText(t, ctx, "main", "staging-down", "team.rules.yml:3:5", "succeeded")
	browsertest.Screenshot(t, ctx, "rules")
	navigate(t, ctx, r.url+"/deploys")
	waitText(t, ctx, "main", "checkout", "v42", "https://ci.example.com/run/42")
	browsertest.Screenshot(t, ctx, "deploys")
	navigate(t, ctx, r.url+"/status")
	waitText(t, ctx, "main", "● connected", "TRIAGED_ALERTS", "triaged-triage", "ingest.max_body_bytes", "/api/v1/dead-letters/{id}/replay")
	browsertest.Screenshot(t, ctx, "status")
}

// startAuthenticated is start for a daemon whose every endpoint needs authorization.
func startAuthenticated(t *testing.T, o app.Options, authorization string) *running {
	t.Helper()
	o.ListenAddress, o.StoragePath = "127.0.0.1:0", t.TempDir()
	o.Stdout = &testkit.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, o)
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	r := &running{app: a, url: "http://" + a.Addr().String()}
	testkit.Eventually(t, testTimeout, "triaged ready", func() bool {
		resp, _ := send(t, "GET", r.url+"/-/ready", authorization, nil)
		return resp.StatusCode == http.StatusOK
	})
	return r
}

type deadLetterList struct {
	Total       int `json:"total"`
	DeadLetters []struct {
		ID     uint64 `json:"id"`
		Reason string `json:"reason"`
	} `json:"dead_letters"`
}

func (r *running) deadLetters(t *testing.T) deadLetterList {
	t.Helper()
	code, body := r.get(t, "/api/v1/dead-letters")
	var l deadLetterList
	if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil {
		t.Fatalf("GET /api/v1/dead-letters: %d %v %s", code, err, body)
	}
	return l
}

// TestReplayDeadLetterInTheBrowser: the page lists a real dead letter (a payload triage cannot
// decode), and its button, with the write token, replays it: the letter is gone, and triage,
// having read the payload again, sets it aside anew.
func TestReplayDeadLetterInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	r := startWithToken(t)
	if err := r.app.Conn().Publish("triaged.alerts.firing", []byte(`not an alert <img src=x onerror=alert(1)>`)); err != nil {
		t.Fatal(err)
	}
	var first uint64
	testkit.Eventually(t, testTimeout, "a dead letter", func() bool {
		l := r.deadLetters(t)
		if l.Total == 1 {
			first = l.DeadLetters[0].ID
		}
		return l.Total == 1
	})

	ctx := browsertest.New(t, 30*time.Second)
	navigate(t, ctx, r.url+"/dead-letters")
	row := fmt.Sprintf("#dl-%d", first)
	waitText(t, ctx, row, "undecodable", "triaged.alerts.firing")
	waitText(t, ctx, "#token-form", "Write token")
	// A wrong token is refused, and asked for again; the dead letter stays.
	for _, tok := range []string{"not-the-token-0123456789", tokenA} {
		setInput(t, ctx, "write-token", tok)
		if err := chromedp.Do(ctx, chromedp.Click("#token-form button"), chromedp.Click(row+" button.replay")); err != nil {
			t.Fatal(err)
		}
		if tok != tokenA {
			waitText(t, ctx, row+" .replay-result", "not authorized (401)")
			waitText(t, ctx, "#token-why", "The token was refused")
		}
	}
	waitText(t, ctx, row+" .replay-result", "replayed as TRIAGED_ALERTS #")
	browsertest.Screenshot(t, ctx, "dead-letters")
	testkit.Eventually(t, testTimeout, "the replayed letter gone, its payload dead-lettered anew", func() bool {
		l := r.deadLetters(t)
		return l.Total == 1 && l.DeadLetters[0].ID > first
	})
}

// TestUIWriteEndpointsRefuseCrossSite: with basic auth a browser sends its credentials with any
// request, so explain and replay refuse what a browser says comes from another site; clients
// that are not browsers, and the UI's own pages, pass.
func TestUIWriteEndpointsRefuseCrossSite(t *testing.T) {
	r := startWithToken(t)
	explain := []byte(`{"alert": {"labels": {"alertname": "TargetDown", "env": "staging"}}}`)
	for _, tc := range []struct {
		path    string
		headers map[string]string
		code    int
	}{
		{"/api/v1/rules/explain", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"/api/v1/rules/explain", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"/api/v1/rules/explain", map[string]string{"Origin": "https://evil.example.com"}, 403},
		{"/api/v1/rules/explain", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"/api/v1/rules/explain", nil, 200}, // curl, triagetool
		{"/api/v1/dead-letters/1/replay", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"/api/v1/dead-letters/1/replay", map[string]string{"Sec-Fetch-Site": "same-origin"}, 404},
		{"/api/v1/dead-letters/1/replay", nil, 404},
		// Every other write endpoint too: a page elsewhere could otherwise post a form to them
		// with the browser's basic-auth credentials.
		{"/api/v1/alerts", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"/api/v1/deploys", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"/-/reload", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"/-/reload", nil, 200},
	} {
		req, _ := http.NewRequest("POST", r.url+tc.path, strings.NewReader(string(explain)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokenA)
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != tc.code {
			t.Errorf("POST %s with %v: %d %s, want %d", tc.path, tc.headers, resp.StatusCode, body, tc.code)
		}
		if tc.code == 403 && !strings.Contains(body, "cross-origin request refused") {
			t.Errorf("POST %s with %v: %s", tc.path, tc.headers, body)
		}
	}
	// Without the token the replay is refused as any write is.
	if resp, body := send(t, "POST", r.url+"/api/v1/dead-letters/1/replay", "", nil); resp.StatusCode != 401 {
		t.Errorf("replay without a token: %d %s", resp.StatusCode, body)
	}
}

// TestPageReadsOfARunningDaemon: the playground offers the alerts triage just handled (from
// the history) and starts from the latest; the dead letters and deploys pages read the daemon's
// own stream and index.
func TestPageReadsOfARunningDaemon(t *testing.T) {
	r := startWithToken(t)
	webhook, err := os.ReadFile("../testdata/alertmanager/firing-3-alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := send(t, "POST", r.url+"/api/v1/alerts", "Bearer "+tokenA, webhook); resp.StatusCode != 200 {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	testkit.Eventually(t, testTimeout, "three recent alerts offered", func() bool {
		_, body := r.get(t, "/playground")
		return strings.Count(body, "<option data-alert=") == 3
	})
	_, body := r.get(t, "/playground")
	for _, want := range []string{
		`· TargetDown · payments-api · P2 (firing)</option>`,
		`<textarea id="pg-alert" rows="18" spellcheck="false" autocomplete="off">{
  &#34;status&#34;: &#34;firing&#34;,`,
		`data-write-auth="bearer"`,
		`name: staging-down`, // the rule file's text
	} {
		if !strings.Contains(body, want) {
			t.Errorf("playground: no %q in\n%s", want, body)
		}
	}
	if code, body := r.get(t, "/dead-letters"); code != 200 || !strings.Contains(body, "No dead letters.") {
		t.Errorf("dead letters: %d %s", code, body)
	}
	if code, body := r.get(t, "/deploys"); code != 200 || !strings.Contains(body, "No deploys recorded.") {
		t.Errorf("deploys: %d %s", code, body)
	}
}
