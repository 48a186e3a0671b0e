package notify

import (
	"math"
	"testing"
)

func TestMetricValue(t *testing.T) {
	for _, tc := range []struct {
		unit string
		v    float64
		want string
	}{
		{"ratio", 0.1234, "12.3 %"},
		{"ratio", 1, "100 %"},
		{"ratio", 0.000123, "0.0123 %"},
		{"ratio", 0, "0 %"},
		{"percent", 99.95, "100 %"},
		{"percent", 12.34, "12.3 %"},
		{"seconds", 0.23, "230 ms"},
		{"seconds", 1.4172, "1.42 s"},
		{"seconds", 0.0000042, "4.2 µs"},
		{"seconds", 300, "5 min"},
		{"seconds", 3 * 86400, "3 d"},
		{"bytes", 12 << 20, "12 MiB"},
		{"bytes", 512, "512 B"},
		{"bytes", 1.5 * (1 << 30), "1.5 GiB"},
		{"req/s", 341.7, "342 req/s"},
		{"req/s", 12345, "12.3 k req/s"},
		{"", 1234567.8, "1.23 M"},
		{"", 1234, "1234"},
		{"", 0.012345, "0.0123"},
		{"", -42.5, "-42.5"},
		{"", 1e-9, "0.000000001"},
		{"", math.Inf(1), "+Inf"},
		{"", math.NaN(), "NaN"},
	} {
		if got := metricValue(tc.unit, &tc.v); got != tc.want {
			t.Errorf("metricValue(%q, %v) = %q, want %q", tc.unit, tc.v, got, tc.want)
		}
	}
	if got := metricValue("ratio", nil); got != "no value" {
		t.Errorf("metricValue of nil = %q, want no value", got)
	}
}

func TestChangeAndOffset(t *testing.T) {
	for v, want := range map[float64]markdown{2985: "+2985 %", -2.934: "-2.93 %", 0: "0 %", 41.26: "+41.3 %"} {
		if got := changePercent(&v); got != want {
			t.Errorf("changePercent(%v) = %q, want %q", v, got, want)
		}
	}
	for m, want := range map[int]string{60: "1 h", 30: "30 min", 90: "1 h 30 min", 1440: "24 h"} {
		if got := offset(m); got != want {
			t.Errorf("offset(%d) = %q, want %q", m, got, want)
		}
	}
}
