package promquery_test

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/promfake"
	"github.com/triaged/triaged/promquery"
)

// now is the opening every test evaluates at; the alert started 10 minutes before.
var (
	now        = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	alertStart = now.Add(-10 * time.Minute)
)

func client(t *testing.T, srv *promfake.Server, http commoncfg.HTTPClientConfig) *promquery.Client {
	return clientMax(t, srv, http, 0)
}

func clientMax(t *testing.T, srv *promfake.Server, http commoncfg.HTTPClientConfig, maxBytes int64) *promquery.Client {
	t.Helper()
	c, err := promquery.NewClient(promquery.Server{URL: srv.URL, HTTP: promquery.HTTPConfig{HTTPClientConfig: http}}, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func compile(t *testing.T, name, query, unit string) *promquery.Template {
	t.Helper()
	tpl, err := promquery.Compile(name, query, unit)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func request(c *promquery.Client, queries ...*promquery.Template) promquery.Request {
	return promquery.Request{
		Now: now, AlertStart: alertStart, Server: c, Queries: queries,
		Labels:  map[string]string{"alertname": "HighErrorRate", "job": "checkout", "severity": "page"},
		Values:  promquery.Values{Service: "checkout", AlertName: "HighErrorRate", Labels: map[string]string{"job": "checkout"}},
		Timeout: 5 * time.Second, Before: time.Hour, Window: time.Hour,
	}
}

// A query's value now, an hour before, its change and its window: the requests are exactly the
// three it takes, at the right times.
func TestCatalogQueryValues(t *testing.T) {
	srv := promfake.New(t)
	// 100 req/s until the alert started, 150 after: a step up at the alert.
	srv.Set(`sum(rate(http_requests_total{job="checkout"}[5m]))`, promfake.Series{Value: func(at time.Time) float64 {
		if at.Before(alertStart) {
			return 100
		}
		return 150
	}})
	req := request(client(t, srv, commoncfg.HTTPClientConfig{}), compile(t, "request_rate", `sum(rate(http_requests_total{job=$labels.job}[5m]))`, "req/s"))
	req.Window = 50 * time.Minute
	res := promquery.Collect(context.Background(), req, nil)
	if len(res.Metrics) != 1 {
		t.Fatalf("%d evidences, want 1", len(res.Metrics))
	}
	ev := res.Metrics[0]
	if ev.Error != "" || ev.Now == nil || *ev.Now != 150 || ev.Before == nil || *ev.Before != 100 || ev.ChangePercent == nil || *ev.ChangePercent != 50 {
		t.Fatalf("evidence %+v, want 150 now, 100 before, +50 %%", ev)
	}
	if ev.Series != 1 || ev.Trend != "rising" || ev.BeforeOffsetMinutes != 60 || ev.Query != `sum(rate(http_requests_total{job="checkout"}[5m]))` {
		t.Errorf("evidence %+v, want 1 series, rising, 60 minutes, the filled query", ev)
	}
	// The window is 60 minutes, the alert 50 minutes in: 20 of 24 columns low, 4 high.
	if want := strings.Repeat("▁", 20) + strings.Repeat("█", 4); ev.Sparkline != want {
		t.Errorf("sparkline %q, want %q", ev.Sparkline, want)
	}
	if !ev.WindowStart.Equal(now.Add(-time.Hour)) || !ev.WindowEnd.Equal(now) {
		t.Errorf("window %v..%v, want %v..%v", ev.WindowStart, ev.WindowEnd, now.Add(-time.Hour), now)
	}
	if len(res.Windows) != 1 || len(res.Windows[0].Points) < 60 || len(res.Windows[0].Points) > 121 {
		t.Errorf("windows %d, want one of 60 to 120 points", len(res.Windows))
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3: %+v", len(reqs), reqs)
	}
	var instants []time.Time
	for _, r := range reqs {
		if r.Query != ev.Query {
			t.Errorf("query %q sent, want %q", r.Query, ev.Query)
		}
		switch r.Path {
		case "/api/v1/query":
			instants = append(instants, r.Time)
		case "/api/v1/query_range":
			if n := r.End.Sub(r.Start) / r.Step; !r.Start.Equal(ev.WindowStart) || !r.End.Equal(now) || n < 60 || n > 120 {
				t.Errorf("range %v..%v step %v (%d points), want the window in 60 to 120 steps", r.Start, r.End, r.Step, n)
			}
		}
	}
	if len(instants) != 2 || !(instants[0].Equal(now) && instants[1].Equal(now.Add(-time.Hour)) || instants[1].Equal(now) && instants[0].Equal(now.Add(-time.Hour))) {
		t.Errorf("instant queries at %v, want now and an hour before", instants)
	}
}

// Of several series, the highest now is shown, its labels kept and the others counted; a NaN
// series is never the highest.
func TestSeveralSeries(t *testing.T) {
	srv := promfake.New(t)
	q := `histogram_quantile(0.99, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))`
	constant := func(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }
	srv.Set(q,
		promfake.Series{Labels: map[string]string{"instance": "a"}, Value: constant(0.2)},
		promfake.Series{Labels: map[string]string{"instance": "b"}, Value: constant(math.NaN())},
		promfake.Series{Labels: map[string]string{"instance": "c"}, Value: constant(0.9)},
		promfake.Series{Labels: map[string]string{"instance": "d"}, Value: constant(0.4)},
	)
	res := promquery.Collect(context.Background(), request(client(t, srv, commoncfg.HTTPClientConfig{}), compile(t, "latency_p99", q, "seconds")), nil)
	ev := res.Metrics[0]
	if ev.Series != 4 || ev.Now == nil || *ev.Now != 0.9 || ev.SeriesLabels["instance"] != "c" || ev.Trend != "steady" || ev.ChangePercent == nil || *ev.ChangePercent != 0 {
		t.Errorf("evidence %+v, want instance c's 0.9 of 4 series, steady", ev)
	}
}

// A NaN or infinite value is no value, and says so; the report's JSON never carries one.
func TestNotFiniteValues(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{{math.NaN(), "NaN"}, {math.Inf(1), "+Inf"}} {
		srv := promfake.New(t)
		srv.Set(`x`, promfake.Series{Value: func(time.Time) float64 { return tt.v }})
		ev := promquery.Collect(context.Background(), request(client(t, srv, commoncfg.HTTPClientConfig{}), compile(t, "x", `x`, "")), nil).Metrics[0]
		if ev.Now != nil || ev.Before != nil || !strings.Contains(ev.Error, tt.want) || ev.Sparkline != "" {
			t.Errorf("%v: evidence %+v, want no value, an error naming %s", tt.v, ev, tt.want)
		}
	}
}

func generator(srv *promfake.Server, expr string) string {
	return srv.URL + "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
}

// The alert's own expression: its value side is queried, the series with the alert's labels is
// shown, and the crossing of the threshold before the alert started is found.
func TestAlertExpression(t *testing.T) {
	crossed := alertStart.Add(-5 * time.Minute) // the rule's for: 5m
	ratio := func(job string, high float64) promfake.Series {
		return promfake.Series{Labels: map[string]string{"job": job}, Value: func(at time.Time) float64 {
			if at.Before(crossed) {
				return 0.01
			}
			return high
		}}
	}
	for _, tt := range []struct {
		name, expr, value, comparison string
		threshold                     float64
	}{
		{"a comparison", `sum by (job) (rate(errors_total[5m])) / sum by (job) (rate(requests_total[5m])) > 0.05`,
			`sum by (job) (rate(errors_total[5m])) / sum by (job) (rate(requests_total[5m]))`, ">", 0.05},
		{"a comparison written the other way", `(0.05 < (job:error_ratio:rate5m))`, `job:error_ratio:rate5m`, ">", 0.05},
		{"no comparison", `job:error_ratio:rate5m`, `job:error_ratio:rate5m`, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := promfake.New(t)
			high := 0.12
			series := []promfake.Series{ratio("other", 0.5), ratio("checkout", high)}
			if tt.comparison == "" {
				// Without a comparison, the expression's series exists while the alert fires.
				series = []promfake.Series{{Labels: map[string]string{"job": "checkout"}, Value: func(at time.Time) float64 {
					if at.Before(crossed) {
						return promfake.Absent
					}
					return high
				}}}
			}
			srv.Set(tt.value, series...)
			c := client(t, srv, commoncfg.HTTPClientConfig{})
			req := request(nil)
			req.AlertServer, req.GeneratorURL = c, generator(srv, tt.expr)
			res := promquery.Collect(context.Background(), req, nil)
			if len(res.Metrics) != 1 {
				t.Fatalf("%d evidences, want the alert's", len(res.Metrics))
			}
			ev := res.Metrics[0]
			if ev.Name != triaged.AlertExpressionMetric || ev.Expr != tt.expr || ev.Query != tt.value || ev.Comparison != tt.comparison {
				t.Errorf("evidence %+v, want the alert's, querying %q, comparison %q", ev, tt.value, tt.comparison)
			}
			if tt.comparison != "" && (ev.Threshold == nil || *ev.Threshold != tt.threshold) || tt.comparison == "" && ev.Threshold != nil {
				t.Errorf("threshold %v, want %v", ev.Threshold, tt.threshold)
			}
			if ev.Error != "" || ev.Now == nil || *ev.Now != high || ev.SeriesLabels["job"] != "checkout" || ev.BeforeOffsetMinutes != 60 {
				t.Errorf("evidence %+v, want the checkout series' %v", ev, high)
			}
			// The crossing is found to the step of the window (70 minutes in about 90 steps).
			if ev.CrossedAt == nil || ev.CrossedAt.Before(crossed) || ev.CrossedAt.Sub(crossed) > time.Minute {
				t.Errorf("crossed at %v, want %v (to a step)", ev.CrossedAt, crossed)
			}
			for _, r := range srv.Requests() {
				if r.Query != tt.value {
					t.Errorf("sent %q, want the value side %q", r.Query, tt.value)
				}
			}
		})
	}
}

// A generator URL of another Prometheus is not queried: no server matches it.
func TestGeneratorOfAnotherHost(t *testing.T) {
	srv := promfake.New(t)
	other := promfake.New(t)
	servers, err := promquery.NewServers(promquery.Settings{Server: promquery.Server{URL: srv.URL}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gen := generator(other, "up == 0")
	if c := servers.ForGenerator(gen, "checkout"); c != nil {
		t.Fatalf("generator %s taken for %s", gen, c.URL())
	}
	if c := servers.ForGenerator(generator(srv, "up == 0"), "checkout"); c == nil {
		t.Fatal("the server's own generator URL is not recognised")
	}
	req := request(servers.ForService("checkout"))
	req.AlertServer, req.GeneratorURL = servers.ForGenerator(gen, "checkout"), gen
	if res := promquery.Collect(context.Background(), req, nil); len(res.Metrics) != 0 {
		t.Errorf("evidence %+v, want none", res.Metrics)
	}
	if n := len(srv.Requests()) + len(other.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// A label value carrying PromQL syntax stays a string literal in the query that runs.
func TestInjection(t *testing.T) {
	srv := promfake.New(t)
	req := request(client(t, srv, commoncfg.HTTPClientConfig{}), compile(t, "error_ratio", `sum(rate(http_requests_total{job=$labels.job,code=~"5.."}[5m]))`, "ratio"))
	req.Values.Labels = map[string]string{"job": `"} or vector(1) or {x="`}
	promquery.Collect(context.Background(), req, nil)
	const want = `sum(rate(http_requests_total{code=~"5..",job="\"} or vector(1) or {x=\""}[5m]))`
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Query != want {
			t.Errorf("the server got %q, want %q", r.Query, want)
		}
	}
}

// A Prometheus that answers 500 or hangs gives every evidence an error saying so, within the
// timeout, and the requests are counted by outcome.
func TestFailingPrometheus(t *testing.T) {
	for _, tt := range []struct {
		name, want, outcome string
		maxBytes            int64
		handle              func(w http.ResponseWriter, r *http.Request, req promfake.Request) bool
	}{
		{"500", "Prometheus answered 500: storage is on fire", promquery.OutcomeError, 0, func(w http.ResponseWriter, _ *http.Request, _ promfake.Request) bool {
			http.Error(w, `{"status":"error","errorType":"internal","error":"storage is on fire"}`, http.StatusInternalServerError)
			return true
		}},
		{"refused", "Prometheus refused the query: 1:1: parse error: unknown function", promquery.OutcomeError, 0, func(w http.ResponseWriter, _ *http.Request, _ promfake.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"1:1: parse error: unknown function"}`))
			return true
		}},
		{"a proxy's 502", "Prometheus answered 502: Bad Gateway", promquery.OutcomeError, 0, func(w http.ResponseWriter, _ *http.Request, _ promfake.Request) bool {
			http.Error(w, "Bad Gateway", http.StatusBadGateway)
			return true
		}},
		{"hanging", "no answer within 300ms", promquery.OutcomeTimeout, 0, func(_ http.ResponseWriter, r *http.Request, _ promfake.Request) bool {
			<-r.Context().Done()
			return true
		}},
		{"too large", "larger than 2048 bytes", promquery.OutcomeError, 2048, func(w http.ResponseWriter, _ *http.Request, _ promfake.Request) bool {
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[` + strings.Repeat(`{"metric":{},"value":[1,"1"]},`, 1000) + `]}}`))
			return true
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := promfake.New(t)
			srv.Handle = tt.handle
			reg := prometheus.NewRegistry()
			req := request(clientMax(t, srv, commoncfg.HTTPClientConfig{}, tt.maxBytes), compile(t, "a", `a`, ""), compile(t, "b", `b`, "ratio"))
			req.Impact = &promquery.UserImpactSpec{FailingRatio: "b"}
			req.Timeout = 300 * time.Millisecond
			start := time.Now()
			res := promquery.Collect(context.Background(), req, promquery.NewMetrics(reg))
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Collect took %v with a timeout of 300ms", took)
			}
			for _, ev := range res.Metrics {
				if ev.Now != nil || !strings.Contains(ev.Error, tt.want) {
					t.Errorf("%s: error %q, want %q", ev.Name, ev.Error, tt.want)
				}
			}
			if res.Impact == nil || res.Impact.Text != "" || !strings.Contains(res.Impact.Why, tt.want) {
				t.Errorf("impact %+v, want why: %s", res.Impact, tt.want)
			}
			if got := metrictest.Value(t, reg, "triaged_prometheus_queries_total", "outcome", tt.outcome); got != 6 {
				t.Errorf("%s queries counted %v, want 6", tt.outcome, got)
			}
		})
	}
}

// Basic auth and a bearer token from a file (relative to the config's directory) reach the
// server.
func TestAuthReachesTheServer(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		http commoncfg.HTTPClientConfig
		want string
	}{
		{"basic auth", commoncfg.HTTPClientConfig{BasicAuth: &commoncfg.BasicAuth{Username: "triaged", Password: "pw"}}, "Basic dHJpYWdlZDpwdw=="},
		{"bearer token file", commoncfg.HTTPClientConfig{Authorization: &commoncfg.Authorization{Type: "Bearer", CredentialsFile: "token"}}, "Bearer s3cret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := promfake.New(t)
			srv.Set(`x`, promfake.Series{Value: func(time.Time) float64 { return 1 }})
			tt.http.SetDirectory(dir)
			res := promquery.Collect(context.Background(), request(client(t, srv, tt.http), compile(t, "x", `x`, "")), nil)
			if res.Metrics[0].Error != "" {
				t.Fatalf("error %s", res.Metrics[0].Error)
			}
			for _, r := range srv.Requests() {
				if got := r.Header.Get("Authorization"); got != tt.want {
					t.Errorf("Authorization %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// What keeps a query from giving a value is said in its evidence.
func TestWhyNoValue(t *testing.T) {
	srv := promfake.New(t)
	srv.Set(`up`, promfake.Series{Labels: map[string]string{"job": "payments"}, Value: func(time.Time) float64 { return 0 }})
	closed := promfake.New(t)
	closed.Close()
	for _, tt := range []struct {
		name string
		req  func() promquery.Request
		want string
	}{
		{"a placeholder without a value", func() promquery.Request {
			return request(client(t, srv, commoncfg.HTTPClientConfig{}), compile(t, "x", `x{pod=$labels.pod}`, ""))
		}, "not queried: the alert has no value for $labels.pod"},
		{"no series", func() promquery.Request {
			return request(client(t, srv, commoncfg.HTTPClientConfig{}), compile(t, "x", `x`, ""))
		}, "no series: the query matched nothing at 2026-03-01T12:00:00Z"},
		{"unreachable", func() promquery.Request {
			return request(client(t, closed, commoncfg.HTTPClientConfig{}), compile(t, "x", `x`, ""))
		}, "Prometheus could not be reached: "},
		{"no series of the alert", func() promquery.Request {
			req := request(nil)
			req.AlertServer, req.GeneratorURL = client(t, srv, commoncfg.HTTPClientConfig{}), generator(srv, "up == 0")
			return req
		}, "none of the 1 series of the expression has the alert's labels"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := promquery.Collect(context.Background(), tt.req(), nil)
			if len(res.Metrics) != 1 || !strings.HasPrefix(res.Metrics[0].Error, tt.want) || res.Metrics[0].Now != nil {
				t.Errorf("evidence %+v, want the error %q", res.Metrics, tt.want)
			}
		})
	}
}
