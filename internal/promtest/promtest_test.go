package promtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/util/strutil"

	"github.com/triaged/triaged/internal/promtest"
	"github.com/triaged/triaged/internal/testkit"
)

// The window of rate() in these tests: 2s, not 5s. Prometheus scrapes every second, and rate()
// extrapolates the increase it sees only half a scrape interval past the window's first sample,
// so rate(x[5s]) reads 30 % of the truth at the second scrape and reaches it four scrapes later,
// while rate(x[2s]) is exact from the second scrape on: its two samples lie within 1.1 intervals
// of both edges. With Prometheus 2.42 first scraping 5–6.5 s after it starts, [5s] would make
// this test last about 10 s instead of 7.
const (
	errorRatio = `sum(rate(http_requests_total{code="500"}[2s])) / sum(rate(http_requests_total[2s]))`
	reqRate    = `sum(rate(http_requests_total[2s]))`
	// tolerance is relative. The request rate is off by the difference between the moment
	// Prometheus stamps a scrape and the moment the target computes its values, a few
	// milliseconds over one-second intervals even on a loaded machine; the error ratio divides
	// two counters computed at one instant, so only that rounding is left in it.
	tolerance = 0.03
)

func near(got, want float64) bool { return math.Abs(got-want) <= tolerance*want }

// TestPrometheusMeasuresTheTargetsRates has the real Prometheus scrape a Target with 300 good and
// 40 failed requests a second, and reads back the error ratio 40/340 ≈ 11.8 % and 340 req/s.
func TestPrometheusMeasuresTheTargetsRates(t *testing.T) {
	t.Parallel()
	tgt := promtest.NewTarget(t)
	tgt.SetRate("checkout", "200", 300)
	tgt.SetRate("checkout", "500", 40)
	tgt.SetRate("search", "200", 0) // a series that does not grow counts for nothing
	// A second target with no series, named without its /metrics path: Start waits for it too,
	// and it adds nothing.
	empty := promtest.NewTarget(t)
	begun := time.Now()
	p := promtest.Start(t, promtest.Options{Targets: []string{tgt.URL(), strings.TrimSuffix(empty.URL(), "/metrics")}})
	ctx := context.Background()

	var ratio, rate, lastRatio, lastRate float64
	testkit.Eventually(t, 15*time.Second, "error ratio 40/340 and 340 req/s", func() bool {
		var err error
		if ratio, err = p.Value(ctx, errorRatio); err != nil {
			return false // no two samples yet: an empty vector
		}
		if rate, err = p.Value(ctx, reqRate); err != nil {
			return false
		}
		if ratio != lastRatio || rate != lastRate { // what it saw, should it never get there
			t.Logf("%s after start: error ratio %.4f, %.1f req/s", time.Since(begun).Round(time.Millisecond), ratio, rate)
			lastRatio, lastRate = ratio, rate
		}
		return near(ratio, 40.0/340) && near(rate, 340)
	})

	// The ratio is exact as soon as it is there: both counters are computed at one instant.
	if got := ratio; math.Abs(got-40.0/340) > 1e-9 {
		t.Errorf("error ratio %v, want %v exactly", got, 40.0/340)
	}
	i := slices.IndexFunc(p.QueryLog(), func(e promtest.QueryLogEntry) bool { return e.Query == errorRatio })
	if i < 0 {
		t.Fatalf("query log lacks %q:\n%v", errorRatio, p.QueryLog())
	}
	e := p.QueryLog()[i]
	if !e.Harness || e.Path != "/api/v1/query" || e.RuleGroup != "" || e.Step != 0 || !e.Start.Equal(e.End) || e.Start.IsZero() {
		t.Errorf("logged %+v, want an instant query of the harness over /api/v1/query", e)
	}
}

// TestQueryLogKeepsQueriesVerbatim sends queries as triaged does, through client_golang's API
// client, and finds each in the query log byte for byte: a label value carrying PromQL syntax,
// properly quoted, stays one literal (the result is empty rather than vector(1)'s 1).
func TestQueryLogKeepsQueriesVerbatim(t *testing.T) {
	t.Parallel()
	p := promtest.Start(t, promtest.Options{})
	client, err := api.NewClient(api.Config{Address: p.URL()})
	if err != nil {
		t.Fatal(err)
	}
	prom := v1.NewAPI(client)
	hostile := `"} or vector(1) or {x="`
	queries := []string{
		`sum(rate(http_requests_total{service=` + strconv.Quote(hostile) + `}[2s]))`,
		`http_requests_total{service="caf\u00e9 \\ \n"}`,
		"up\n# a comment on its own line",
	}
	for _, q := range queries {
		v, _, _, err := prom.Query(context.Background(), q, time.Now())
		if err != nil {
			t.Fatalf("query %q: %v", q, err)
		}
		if vec, ok := v.(model.Vector); !ok || len(vec) != 0 {
			t.Errorf("query %q answered %v, want an empty vector", q, v)
		}
	}
	log := p.QueryLog()
	for _, q := range queries {
		i := slices.IndexFunc(log, func(e promtest.QueryLogEntry) bool { return e.Query == q })
		if i < 0 {
			t.Errorf("query log lacks %q; it has:\n%s", q, dump(log))
			continue
		}
		if e := log[i]; e.Harness || e.Path != "/api/v1/query" {
			t.Errorf("logged %+v, want a query from outside the harness over /api/v1/query", e)
		}
	}
}

func dump(log []promtest.QueryLogEntry) string {
	var b strings.Builder
	for _, e := range log {
		fmt.Fprintf(&b, "  %q harness=%v path=%q rule_group=%q\n", e.Query, e.Harness, e.Path, e.RuleGroup)
	}
	return b.String()
}

// TestGeneratorURLIsWhatPrometheusSends has the real Prometheus fire an alert at a local
// Alertmanager and compares the generatorURL it sent with GeneratorURL, given the expression as
// Prometheus prints it (spaces collapsed), and with Prometheus' own strutil.
func TestGeneratorURLIsWhatPrometheusSends(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		urls []string
	)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
			http.NotFound(w, r)
			return
		}
		var alerts []struct {
			GeneratorURL string `json:"generatorURL"`
		}
		if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, a := range alerts {
			urls = append(urls, a.GeneratorURL)
		}
	}))
	t.Cleanup(am.Close)
	rules := `groups:
  - name: promtest
    rules:
      - alert: Always
        expr: sum(vector(1))   >   0
`
	p := promtest.Start(t, promtest.Options{Rules: rules, Alertmanager: am.URL})
	var got string
	testkit.Eventually(t, 15*time.Second, "Prometheus sent the alert", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(urls) > 0 {
			got = urls[0]
		}
		return got != ""
	})
	printed := "sum(vector(1)) > 0"
	if want := promtest.GeneratorURL(p.URL(), printed); got != want {
		t.Errorf("generatorURL\n %s, GeneratorURL gives\n %s", got, want)
	}
	if want := p.URL() + strutil.TableLinkForExpression(printed); got != want {
		t.Errorf("generatorURL\n %s, Prometheus' strutil gives\n %s", got, want)
	}
	// The rule's evaluations are in the query log under their group, also as printed.
	if !slices.ContainsFunc(p.QueryLog(), func(e promtest.QueryLogEntry) bool {
		return e.RuleGroup == "promtest" && e.Query == printed && e.Path == ""
	}) {
		t.Errorf("query log lacks the rule's evaluation:\n%s", dump(p.QueryLog()))
	}
}

func TestGeneratorURL(t *testing.T) {
	for _, tc := range []struct{ base, expr, want string }{
		{"http://127.0.0.1:9090", "up", "http://127.0.0.1:9090/graph?g0.expr=up&g0.tab=1"},
		{"http://prom.example/prometheus/", `rate(x{a="b c"}[5m]) > 0.1`,
			"http://prom.example/prometheus/graph?g0.expr=rate%28x%7Ba%3D%22b+c%22%7D%5B5m%5D%29+%3E+0.1&g0.tab=1"},
		{"http://p", `x{a="\"} or vector(1) or {x=\""}`,
			"http://p/graph?g0.expr=x%7Ba%3D%22%5C%22%7D+or+vector%281%29+or+%7Bx%3D%5C%22%22%7D&g0.tab=1"},
	} {
		if got := promtest.GeneratorURL(tc.base, tc.expr); got != tc.want {
			t.Errorf("GeneratorURL(%q, %q) = %q, want %q", tc.base, tc.expr, got, tc.want)
		}
	}
}
