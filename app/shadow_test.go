package app_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/rules"
)

// shadowStream is a known stream of alerts, each its own Alertmanager group, so each one not
// dropped opens an incident of its own. Beside the rules in force of rules/testdata/shadow, the
// candidate there decides two prod HighLatency alerts P2 instead of P3, drops DiskAlmostFull
// (P4 in force), and does not escalate the frontend alert (P3 in force, from P4); it agrees on
// the others, InfoInhibitor dropped by both.
var shadowStream = []string{
	`"alertname":"HighLatency","env":"prod","instance":"web-1","service":"shop"`,
	`"alertname":"HighLatency","env":"staging","instance":"web-9","service":"shop"`,
	`"alertname":"DiskAlmostFull","instance":"db-1","service":"shop"`,
	`"alertname":"DatabaseDown","instance":"db-1","service":"shop"`,
	`"alertname":"InfoInhibitor","service":"shop"`,
	`"alertname":"CheckoutErrors","tier":"frontend","service":"checkout"`,
	`"alertname":"HighLatency","env":"prod","instance":"web-2","service":"shop"`,
}

func shadowWebhook(i int, labels string) []byte {
	return fmt.Appendf(nil, `{"receiver":"webhook","status":"firing","alerts":[{"status":"firing","labels":{%s},"annotations":{"summary":"alert %d"},"startsAt":"2026-11-26T15:08:31Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%016x"}],"groupLabels":{"n":"%d"},"commonLabels":{%s},"commonAnnotations":{},"externalURL":"http://am.test:9093","version":"4","groupKey":"{}:{n=\"%d\"}","truncatedAlerts":0}`,
		labels, i, i+1, i, labels, i)
}

// shadowDaemon starts triaged on the rules in force of the shadow tests, with the candidate as
// shadow rules when shadow is set, posts the stream, and returns it with the reports it wrote.
func shadowDaemon(t *testing.T, shadow bool) (*running, []map[string]any) {
	t.Helper()
	dir := t.TempDir()
	copyFile := func(name string) {
		data, err := os.ReadFile(filepath.Join("../rules/testdata/shadow", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("in-force.rules.yml")
	copyFile("candidate.rules.yml")
	cfg := reportAtOnce + "rules:\n  files: [in-force.rules.yml]\n"
	if shadow {
		cfg += "  shadow_files: [candidate.rules.yml]\n  shadow_max_disagreements: 3\n"
	}
	cfg += "sinks:\n  - name: stdout\n    type: stdout\n  - name: file\n    type: file\n    path: reports.jsonl\n"
	path := filepath.Join(dir, "triaged.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, app.Options{ConfigFile: path})
	for i, labels := range shadowStream {
		r.post(t, shadowWebhook(i, labels))
		r.settled(t) // one at a time, so that the latest disagreements come in a known order
	}
	r.waitReports(t, 6) // every alert but the dropped InfoInhibitor opens an incident
	data, err := os.ReadFile(filepath.Join(dir, "reports.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var reports []map[string]any
	for line := range strings.Lines(string(data)) {
		var rep map[string]any
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, rep)
	}
	return r, reports
}

// comparable is a report without what differs from one run to the next whatever the rules:
// the clock (when it was received and triaged, the deadlines counted from then) and the ids
// and links made of it. Everything the rules decide stays.
func comparable(t *testing.T, rep map[string]any) string {
	t.Helper()
	for _, k := range []string{"id", "incident_id", "received_at", "triaged_at", "deadlines", "next_update_due", "postmortem_due", "links"} {
		delete(rep, k)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShadowRulesOnARunningDaemon: the shadow rules count their disagreements with the rules in
// force exactly, list the latest, and change no report; a broken candidate is refused on
// reload and the one running stays.
func TestShadowRulesOnARunningDaemon(t *testing.T) {
	plain, want := shadowDaemon(t, false)
	r, got := shadowDaemon(t, true)
	norm := func(reps []map[string]any) []string {
		var out []string
		for _, rep := range reps {
			out = append(out, comparable(t, rep))
		}
		slices.Sort(out)
		return out
	}
	if w, g := norm(want), norm(got); !slices.Equal(w, g) {
		t.Errorf("the shadow rules changed the reports:\nwithout:\n%s\nwith:\n%s", strings.Join(w, "\n"), strings.Join(g, "\n"))
	}
	if code, _ := plain.get(t, "/api/v1/rules/shadow"); code != http.StatusNotFound {
		t.Errorf("GET /api/v1/rules/shadow without shadow rules: %d, want 404", code)
	}
	// GET /api/v1/rules sums the shadow set up, or says there is none.
	for _, tc := range []struct {
		daemon *running
		want   string
	}{{plain, `"shadow":null`}, {r, `"disagreements":4`}} {
		if code, body := tc.daemon.get(t, "/api/v1/rules"); code != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("GET /api/v1/rules: %d, want %s in %s", code, tc.want, body)
		}
	}

	reg := r.app.Registry()
	moves := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "triaged_rules_shadow_disagreements_total" {
			continue
		}
		for _, m := range mf.Metric {
			l := map[string]string{}
			for _, p := range m.Label {
				l[p.GetName()] = p.GetValue()
			}
			moves[l["from"]+"→"+l["to"]] = m.Counter.GetValue()
		}
	}
	wantMoves := map[string]float64{"P3→P2": 2, "P4→dropped": 1, "P3→P4": 1}
	if !maps.Equal(moves, wantMoves) {
		t.Errorf("triaged_rules_shadow_disagreements_total: %v, want %v", moves, wantMoves)
	}
	for stage, want := range map[string]float64{"classify": 7, "escalate": 6} {
		if got := metrictest.Value(t, reg, "triaged_rules_shadow_evaluations_total", "stage", stage); got != want {
			t.Errorf("%s evaluations: %v, want %v", stage, got, want)
		}
	}

	code, body := r.get(t, "/api/v1/rules/shadow")
	var st api.ShadowResponse
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/rules/shadow: %d %v %s", code, err, body)
	}
	if st.Disagreements != 4 || st.Kept != 3 || len(st.Latest) != 3 || len(st.Files) != 1 || !strings.HasSuffix(st.Files[0], "candidate.rules.yml") {
		t.Errorf("GET /api/v1/rules/shadow: %s", body)
	}
	var latest []string
	for _, d := range st.Latest {
		latest = append(latest, string(d.Stage)+" "+d.AlertName+" "+d.Labels["instance"]+" "+d.InForce.Severity+" ("+d.InForce.Rule+") → "+d.Shadow.Severity+" ("+d.Shadow.Rule+")")
	}
	wantLatest := []string{ // the last three, newest first
		"classify HighLatency web-2 P3 (latency) → P2 (latency-by-env)",
		"escalate CheckoutErrors  P3 (frontend) → P4 ()",
		"classify DiskAlmostFull db-1 P4 (default) → dropped (drop-disk-noise)",
	}
	if !slices.Equal(latest, wantLatest) {
		t.Errorf("latest disagreements:\n%s\nwant:\n%s", strings.Join(latest, "\n"), strings.Join(wantLatest, "\n"))
	}
	version := st.Version

	// A broken candidate is refused with its position; the running one stays, with its counts.
	candidate := filepath.Join(filepath.Dir(r.app.Config().File), "candidate.rules.yml")
	if err := os.WriteFile(candidate, []byte("rules:\n  - name: broken\n    when: lables.x == \"y\"\n    severity: P1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(r.url+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "rules.shadow_files: shadow reload rules: "+candidate+":3:11: rule \"broken\"") {
		t.Fatalf("POST /-/reload of a broken shadow file: %d %q", resp.StatusCode, body)
	}
	if _, body := r.get(t, "/api/v1/rules/shadow"); !strings.Contains(body, `"version":"`+version+`"`) || !strings.Contains(body, `"disagreements":4`) {
		t.Errorf("after a refused reload: %s", body)
	}
	if got := metrictest.Value(t, reg, "triaged_rules_shadow_info", "version", version); got != 1 {
		t.Errorf("triaged_rules_shadow_info{version=%q} = %v", version, got)
	}
	if got := metrictest.Value(t, reg, "triaged_rules_last_reload_successful"); got != 1 {
		t.Errorf("the rules in force reloaded fine, yet last_reload_successful = %v", got)
	}

	// The rules in force as the candidate: it agrees on everything from now on.
	inForce, err := os.ReadFile(filepath.Join("../rules/testdata/shadow/in-force.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(candidate, inForce, 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Post(r.url+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /-/reload: %d %q", resp.StatusCode, body)
	}
	code, body = r.get(t, "/api/v1/rules/shadow")
	st = api.ShadowResponse{}
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || st.Version == version || st.Disagreements != 0 || len(st.Latest) != 0 || st.Evaluations[rules.StageClassify] != 0 {
		t.Errorf("after a new candidate, counting starts again: %d %s", code, body)
	}
}
