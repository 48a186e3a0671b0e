package promquery_test

import (
	"testing"

	"github.com/triaged/triaged/promquery"
)

func TestParseAlertExpr(t *testing.T) {
	for _, tt := range []struct {
		expr, value, comparison string
		threshold               float64
	}{
		{`up{job="x"} == 0`, `up{job="x"}`, "==", 0},
		{`rate(errors[5m]) >= -1`, `rate(errors[5m])`, ">=", -1},
		{`((0.9 > histogram_quantile(0.99, rate(b[5m]))))`, `histogram_quantile(0.99, rate(b[5m]))`, "<", 0.9},
		{`rate(errors[5m]) > bool 0.05`, `rate(errors[5m]) > bool 0.05`, "", 0},
		{`a > b`, `a > b`, "", 0},
		{`absent(up{job="x"})`, `absent(up{job="x"})`, "", 0},
		{`a > 1 and b < 2`, `a > 1 and b < 2`, "", 0},
	} {
		ae, err := promquery.ParseAlertExpr(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if ae.Value != tt.value || ae.Comparison != tt.comparison || ae.Threshold != tt.threshold {
			t.Errorf("%s: value %q %q %v, want %q %q %v", tt.expr, ae.Value, ae.Comparison, ae.Threshold, tt.value, tt.comparison, tt.threshold)
		}
	}
	if _, err := promquery.ParseAlertExpr(`rate(x[5m]`); err == nil {
		t.Error("a broken expression parsed")
	}
	if got := promquery.GeneratorExpr("http://prom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"); got != "up == 0" {
		t.Errorf("generator expression %q", got)
	}
}
