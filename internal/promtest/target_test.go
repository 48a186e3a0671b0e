package promtest_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/triaged/triaged/internal/promtest"
)

// scrape reads the target as Prometheus does and returns each sample by name{labels}.
func scrape(t *testing.T, tgt *promtest.Target) map[string]float64 {
	t.Helper()
	resp, err := http.Get(tgt.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			var l []string
			for _, lp := range m.Label {
				l = append(l, lp.GetName()+"="+lp.GetValue())
			}
			key := name + "{" + strings.Join(l, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.Counter.GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

func TestTargetCountersFollowTheRatesAndNeverFall(t *testing.T) {
	tgt := promtest.NewTarget(t)
	const key = "http_requests_total{code=500,service=checkout}"
	tgt.SetRate("checkout", "500", 1e6)
	first := scrape(t, tgt)[key]
	tgt.SetRate("checkout", "500", 0)
	held := scrape(t, tgt)[key]
	if held < first || held == 0 {
		t.Fatalf("after 1e6/s the counter went %v → %v", first, held)
	}
	if again := scrape(t, tgt)[key]; again != held {
		t.Errorf("at 0/s the counter moved %v → %v", held, again)
	}
}

func TestTargetGauges(t *testing.T) {
	tgt := promtest.NewTarget(t)
	tgt.SetGauge("saturation_ratio", 0.5, "service", "checkout")
	tgt.SetGauge("saturation_ratio", 0.93, "service", "checkout")
	tgt.SetGauge("saturation_ratio", 0.1, "service", "search")
	tgt.SetGauge("queue_depth", 7)
	got := scrape(t, tgt)
	for key, want := range map[string]float64{
		"saturation_ratio{service=checkout}": 0.93,
		"saturation_ratio{service=search}":   0.1,
		"queue_depth{}":                      7,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (scraped %v)", key, got[key], want, got)
		}
	}
}

// fatalRecorder stops at Fatalf, as testing.T does, and keeps the message.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, a ...any) {
	r.msg = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

func TestTargetRefusesWhatItCannotServe(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(*promtest.Target)
		want string
	}{
		{"falling counter", func(g *promtest.Target) { g.SetRate("checkout", "200", -1) }, "a counter cannot fall"},
		{"odd labels", func(g *promtest.Target) { g.SetGauge("g", 1, "service") }, "not name/value pairs"},
		{"the counter's name", func(g *promtest.Target) { g.SetGauge("http_requests_total", 1) }, "the name of the request counter"},
		{"empty name", func(g *promtest.Target) { g.SetGauge("", 1) }, `SetGauge(""): not a metric name`},
		{"UTF-8 name", func(g *promtest.Target) { g.SetGauge("saturation.ratio", 1) }, `not a metric name Prometheus 2.42 can scrape`},
		{"UTF-8 label", func(g *promtest.Target) { g.SetGauge("g", 1, "k8s.pod", "a") }, `"k8s.pod" is not a label name`},
		{"other label names", func(g *promtest.Target) {
			g.SetGauge("g", 1, "service", "a")
			g.SetGauge("g", 1, "pod", "a")
		}, `label names ["pod"], but earlier ["service"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &fatalRecorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc.do(promtest.NewTarget(r))
			}()
			<-done
			if !strings.Contains(r.msg, tc.want) {
				t.Errorf("failure %q, want it to contain %q", r.msg, tc.want)
			}
		})
	}
}
