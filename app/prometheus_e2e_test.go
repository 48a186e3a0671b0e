package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/graph"
	"github.com/triaged/triaged/internal/promtest"
	"github.com/triaged/triaged/internal/testkit"
)

// hostileInstance is an alert label that would widen a query if it were pasted into PromQL.
const hostileInstance = `"} or vector(1) or {x="`

// The rates the test target serves, and the tolerance on what the report says of them: the
// values are Prometheus' rate() over a 2s window of 1s scrapes of counters that follow these
// rates exactly, so they differ only by a scrape's timing jitter.
const (
	okPerSecond     = 300
	errorsPerSecond = 40
	rateTolerance   = 0.05 // relative
)

// TestMetricsEvidenceFromARealPrometheus: Debian's Prometheus scrapes a target whose error rate
// rises at a moment the test knows; an alert on the error ratio comes in with Prometheus'
// generator URL. The opening report gives the error ratio and the request rate the target
// produced, the user impact in numbers, the alert expression's value and when it crossed its
// threshold, and graphs the daemon serves — and a label carrying PromQL changes nothing in the
// queries Prometheus ran. (Prometheus 2.42 scrapes a new target only after 5 s, so this test
// takes about 10 s.)
func TestMetricsEvidenceFromARealPrometheus(t *testing.T) {
	tgt := promtest.NewTarget(t)
	tgt.SetRate("checkout", "200", okPerSecond)
	tgt.SetRate("checkout", "500", 0)
	prom := promtest.Start(t, promtest.Options{Targets: []string{tgt.URL()}})
	ctx := context.Background()
	const total = `sum(rate(http_requests_total[2s]))`
	const ratio = `sum(rate(http_requests_total{code="500"}[2s])) / sum(rate(http_requests_total[2s]))`
	near := func(got, want float64) bool { return math.Abs(got-want) <= rateTolerance*want }
	testkit.Eventually(t, 30*time.Second, "Prometheus has the request rate", func() bool {
		v, err := prom.Value(ctx, total)
		return err == nil && near(v, okPerSecond)
	})
	rise := time.Now()
	tgt.SetRate("checkout", "500", errorsPerSecond)
	wantRatio := float64(errorsPerSecond) / (okPerSecond + errorsPerSecond)
	testkit.Eventually(t, 30*time.Second, "Prometheus has the error ratio", func() bool {
		v, err := prom.Value(ctx, ratio)
		return err == nil && near(v, wantRatio)
	})
	// triaged evaluates its queries at a whole second (as Prometheus' own rule evaluation does at
	// its interval): let the next one pass, so that its "now" sees the ratio as the harness did.
	converged := time.Now()
	testkit.Eventually(t, 2*time.Second, "a whole second after the ratio settled", func() bool {
		return time.Now().Truncate(time.Second).After(converged)
	})

	dir := t.TempDir()
	reports := filepath.Join(dir, "reports.jsonl")
	cfg := fmt.Sprintf(`incidents: {update_interval: 0s, resolve_hold: 0s}
enrichment: {timeout: 8s}
prometheus:
  url: %s
  timeout: 6s
  window: 30s
  before: 1m
sinks:
  - {name: stdout, type: stdout}
  - {name: json, type: file, path: %s}
services:
  - name: checkout
    environment: prod
    metrics:
      - name: error_ratio
        query: sum(rate(http_requests_total{service=$service, code=~"5.."}[2s])) / sum(rate(http_requests_total{service=$service}[2s]))
        unit: ratio
      - name: request_rate
        query: sum(rate(http_requests_total{service=$service}[2s]))
        unit: req/s
      - name: instance_rate
        query: sum(rate(http_requests_total{service=$service, instance=$labels.instance}[2s]))
        unit: req/s
    user_impact: {failing_ratio: error_ratio, request_rate: request_rate}
`, prom.URL(), reports)
	r := start(t, app.Options{ConfigFile: configFile(t, cfg)})

	expr := ratio + " > 0.05"
	startsAt := time.Now().UTC().Truncate(time.Second)
	webhook := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"triaged","groupKey":"{}:{alertname=\"CheckoutErrors\"}",
"alerts":[{"status":"firing","labels":{"alertname":"CheckoutErrors","service":"checkout","env":"prod","severity":"critical","instance":%q},
"annotations":{"summary":"checkout answers errors"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":%q,"fingerprint":"c0ffee00000000e1"}]}`,
		hostileInstance, startsAt.Format(time.RFC3339), promtest.GeneratorURL(prom.URL(), expr))
	r.post(t, []byte(webhook))
	out := lastReport(r.waitReports(t, 1))
	rep := readReport(t, reports)

	byName := map[string]triaged.MetricEvidence{}
	for _, m := range rep.Metrics {
		byName[m.Name] = m
	}
	value := func(name string) float64 {
		m, ok := byName[name]
		if !ok || m.Now == nil {
			t.Fatalf("metric %s: %+v, want a value (report metrics %+v)", name, m, rep.Metrics)
		}
		return *m.Now
	}
	if v := value("error_ratio"); !near(v, wantRatio) {
		t.Errorf("error_ratio = %.4f, want %.4f ± %.0f %%", v, wantRatio, 100*rateTolerance)
	}
	if v := value("request_rate"); !near(v, okPerSecond+errorsPerSecond) {
		t.Errorf("request_rate = %.1f, want %d ± %.0f %%", v, okPerSecond+errorsPerSecond, 100*rateTolerance)
	}
	alert := byName[triaged.AlertExpressionMetric]
	if v := value(triaged.AlertExpressionMetric); !near(v, wantRatio) || alert.Expr != expr || alert.Threshold == nil || *alert.Threshold != 0.05 {
		t.Errorf("alert expression evidence %+v (now %.4f), want the ratio %.4f, the expression and threshold 0.05", alert, v, wantRatio)
	}
	// The ratio crossed 5 % within a scrape and a rate window of the rise.
	if alert.CrossedAt == nil || alert.CrossedAt.Before(rise.Add(-time.Second)) || alert.CrossedAt.After(rise.Add(4*time.Second)) {
		t.Errorf("crossed at %v, want within [-1s, +4s] of the rise at %v", alert.CrossedAt, rise.UTC())
	}
	// The hostile instance matches no series: the query stayed a selector with one literal.
	if m := byName["instance_rate"]; m.Now != nil {
		t.Errorf("instance_rate = %v: a label carrying PromQL widened the query", *m.Now)
	}
	im := rep.MeasuredImpact
	if im == nil || im.FailingRatio == nil || !near(*im.FailingRatio, wantRatio) || im.RequestRate == nil || !near(*im.RequestRate, okPerSecond+errorsPerSecond) {
		t.Fatalf("measured impact %+v, want the error ratio and the request rate", im)
	}
	// The numbers are checked above within their tolerance; the text only for its form.
	for _, want := range []string{
		`\*\*User Impact\*\*: ≈ 1[12](\.\d)? % of requests failing, about [34]\d req/s affected · measured by `,
		"### Metrics",
		"`error_ratio`: \\*\\*1[12]\\.\\d %\\*\\*",
		"`request_rate`: \\*\\*3[2-5]\\d req/s\\*\\*",
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the report lacks %s:\n%s", want, out)
		}
	}

	checkQueriesRan(t, prom)
	checkGraph(t, r, rep, "error_ratio")
	checkGraph(t, r, rep, triaged.AlertExpressionMetric)
}

// checkQueriesRan: every query triaged sent Prometheus is one of the catalog's with the
// alert's values as literals, or the alert's own expression's value side.
func checkQueriesRan(t *testing.T, prom *promtest.Prometheus) {
	t.Helper()
	quoted := fmt.Sprintf("%q", hostileInstance)
	allowed := map[string]bool{
		`sum(rate(http_requests_total{code=~"5..",service="checkout"}[2s])) / sum(rate(http_requests_total{service="checkout"}[2s]))`: true,
		`sum(rate(http_requests_total{service="checkout"}[2s]))`:                                                                      true,
		`sum(rate(http_requests_total{instance=` + quoted + `,service="checkout"}[2s]))`:                                              true,
		`sum(rate(http_requests_total{code="500"}[2s])) / sum(rate(http_requests_total[2s]))`:                                         true,
	}
	seen := map[string]bool{}
	for _, e := range prom.QueryLog() {
		if e.Harness || e.RuleGroup != "" {
			continue
		}
		if !allowed[e.Query] {
			t.Errorf("Prometheus ran %q, which is none of the queries triaged may send", e.Query)
		}
		seen[e.Query] = true
	}
	for q := range allowed {
		if !seen[q] {
			t.Errorf("Prometheus never ran %q", q)
		}
	}
}

// checkGraph fetches a metric's graph from the daemon: a PNG of the configured size.
func checkGraph(t *testing.T, r *running, rep *triaged.Report, name string) {
	t.Helper()
	path := triaged.GraphPath(rep.IncidentID, name)
	resp, err := http.Get(r.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	img, err := png.Decode(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not a PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != graph.DefaultWidth || b.Dy() != graph.DefaultHeight {
		t.Errorf("graph %s is %dx%d, want %dx%d", name, b.Dx(), b.Dy(), graph.DefaultWidth, graph.DefaultHeight)
	}
}

// readReport reads the one report a file sink wrote.
func readReport(t *testing.T, path string) *triaged.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	var rep *triaged.Report
	for sc.Scan() {
		if rep != nil {
			t.Fatalf("%s holds more than one report", path)
		}
		if rep, err = triaged.DecodeReport(sc.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	if rep == nil {
		t.Fatalf("%s holds no report", path)
	}
	return rep
}

// TestAPrometheusThatFailsNeverHoldsTheOpening: a Prometheus that answers 500, or one that never
// answers, leaves the opening report to go out with every query saying why it has no value,
// and the user impact saying why it was not measured.
func TestAPrometheusThatFailsNeverHoldsTheOpening(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"answers 500", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"status":"error","errorType":"internal","error":"storage is on fire"}`, http.StatusInternalServerError)
		}, "Prometheus answered 500"},
		{"hangs", func(w http.ResponseWriter, r *http.Request) {
			// The body read, the server notices the client hanging up (and ends r's context).
			_ = r.ParseForm()
			<-r.Context().Done()
		}, "no answer within 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prom := httptest.NewServer(tc.handler)
			t.Cleanup(prom.Close)
			cfg := fmt.Sprintf(`enrichment: {timeout: 2s}
prometheus: {url: %s, timeout: 1s}
services:
  - name: checkout
    metrics:
      - {name: error_ratio, query: 'sum(rate(errors_total{service=$service}[5m])) / sum(rate(requests_total{service=$service}[5m]))', unit: ratio}
    user_impact: {failing_ratio: error_ratio}
`, prom.URL)
			r := start(t, app.Options{ConfigFile: configFile(t, cfg)})
			webhook := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"triaged","groupKey":"{}:{alertname=\"CheckoutErrors\"}",
"alerts":[{"status":"firing","labels":{"alertname":"CheckoutErrors","service":"checkout","severity":"critical"},
"annotations":{"summary":"checkout answers errors"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":%q}]}`,
				time.Now().UTC().Format(time.RFC3339), promtest.GeneratorURL(prom.URL, "sum(rate(errors_total[5m])) > 1"))
			r.post(t, []byte(webhook))
			out := lastReport(r.waitReports(t, 1))
			for _, want := range []string{
				"- Alert expression `sum(rate(errors_total[5m])) > 1`: not collected: " + tc.want,
				"- `error_ratio`: not collected: " + tc.want,
				"**User Impact**: Unknown: not measured: ",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("the report lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
