package promtest

import (
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

// Target is a scrape target whose metrics the test controls: the counter
// http_requests_total{service, code}, growing at the rates the test sets, and gauges it sets.
// It serves them at URL until the test ends.
type Target struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	counters map[counterKey]*counter
	gauges   map[string]*gauge // by metric name
}

type counterKey struct{ service, code string }

// counter is a value that grows at rate per second since since, on top of base.
type counter struct {
	base  float64
	rate  float64
	since time.Time
}

func (c *counter) at(now time.Time) float64 {
	return c.base + c.rate*now.Sub(c.since).Seconds()
}

// gauge is one gauge metric: its label names and the value of each label set.
type gauge struct {
	labelNames []string
	values     map[string]gaugeValue // by the label values joined
}

type gaugeValue struct {
	labelValues []string
	v           float64
}

var requestsDesc = prometheus.NewDesc("http_requests_total",
	"Requests the test target pretends to have served, growing at the rates the test set.",
	[]string{"service", "code"}, nil)

// NewTarget starts a Target with no series; SetRate and SetGauge add them.
func NewTarget(t testing.TB) *Target {
	tg := &Target{t: t, counters: map[counterKey]*counter{}, gauges: map[string]*gauge{}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(tg)
	tg.srv = httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(tg.srv.Close)
	return tg
}

// URL is the target's metrics URL, for Options.Targets.
func (tg *Target) URL() string { return tg.srv.URL + "/metrics" }

// SetRate makes http_requests_total{service, code} grow by perSecond every second from now on,
// continuing from its current value (a counter never goes down). The value is computed from the
// clock at each scrape, so rate() over any window after the change is perSecond however the
// scrapes are scheduled.
func (tg *Target) SetRate(service, code string, perSecond float64) {
	if perSecond < 0 {
		tg.t.Fatalf("promtest: SetRate(%q, %q, %v): a counter cannot fall", service, code, perSecond)
	}
	now := time.Now()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	k := counterKey{service, code}
	c, ok := tg.counters[k]
	if !ok {
		c = &counter{}
		tg.counters[k] = c
	}
	c.base, c.rate, c.since = c.at(now), perSecond, now
}

// SetGauge sets the gauge name with the given label name/value pairs to v, e.g.
// SetGauge("saturation_ratio", 0.93, "service", "checkout"). Every series of one gauge must have
// the same label names.
func (tg *Target) SetGauge(name string, v float64, labelPairs ...string) {
	if len(labelPairs)%2 != 0 {
		tg.t.Fatalf("promtest: SetGauge(%q): labels %q are not name/value pairs", name, labelPairs)
	}
	var names, values []string
	for i := 0; i < len(labelPairs); i += 2 {
		names, values = append(names, labelPairs[i]), append(values, labelPairs[i+1])
	}
	if name == "http_requests_total" {
		tg.t.Fatalf("promtest: SetGauge(%q): the name of the request counter", name)
	}
	// Prometheus 2.42 reads only the classic names, not the quoted UTF-8 ones client_golang allows.
	if !model.LegacyValidation.IsValidMetricName(name) {
		tg.t.Fatalf("promtest: SetGauge(%q): not a metric name Prometheus 2.42 can scrape", name)
	}
	for _, l := range names {
		if !model.LegacyValidation.IsValidLabelName(l) {
			tg.t.Fatalf("promtest: SetGauge(%q): %q is not a label name Prometheus 2.42 can scrape", name, l)
		}
	}
	if _, err := prometheus.NewConstMetric(gaugeDesc(name, names), prometheus.GaugeValue, v, values...); err != nil {
		tg.t.Fatalf("promtest: SetGauge(%q, %v, %q): %v", name, v, labelPairs, err)
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	g, ok := tg.gauges[name]
	if !ok {
		g = &gauge{labelNames: names, values: map[string]gaugeValue{}}
		tg.gauges[name] = g
	}
	if !slices.Equal(g.labelNames, names) {
		tg.t.Fatalf("promtest: SetGauge(%q): label names %q, but earlier %q", name, names, g.labelNames)
	}
	g.values[joinKey(values)] = gaugeValue{labelValues: values, v: v}
}

func gaugeDesc(name string, labelNames []string) *prometheus.Desc {
	return prometheus.NewDesc(name, "A gauge the test sets.", labelNames, nil)
}

func joinKey(values []string) string {
	k := ""
	for _, v := range values {
		k += v + "\xff"
	}
	return k
}

// Describe describes nothing, making the target an unchecked collector: its gauges are named by
// the test at run time. The registry still checks what Collect sends for consistency.
func (tg *Target) Describe(chan<- *prometheus.Desc) {}

// Collect computes every counter at the time of the scrape.
func (tg *Target) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for k, c := range tg.counters {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, c.at(now), k.service, k.code)
	}
	for name, g := range tg.gauges {
		desc := gaugeDesc(name, g.labelNames)
		for _, gv := range g.values {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, gv.v, gv.labelValues...)
		}
	}
}
