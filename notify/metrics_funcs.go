package notify

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/triaged/triaged"
)

// The template helpers of the Metrics section: they print what a Prometheus query said in the
// words and units a responder reads, never as 1.2345678e+06.

// alertMetric is the evidence of the alert's own expression, or nil when there is none.
func alertMetric(rep *triaged.Report) *triaged.MetricEvidence {
	if rep == nil {
		return nil
	}
	for i := range rep.Metrics {
		if rep.Metrics[i].Name == triaged.AlertExpressionMetric {
			return &rep.Metrics[i]
		}
	}
	return nil
}

// queryMetrics are the catalog's queries, in the order they were configured.
func queryMetrics(rep *triaged.Report) []triaged.MetricEvidence {
	if rep == nil {
		return nil
	}
	var out []triaged.MetricEvidence
	for _, m := range rep.Metrics {
		if m.Name != triaged.AlertExpressionMetric {
			out = append(out, m)
		}
	}
	return out
}

// metricValue formats a value in its unit: "ratio" 0.123 → "12.3 %", "percent" → "12.3 %",
// "seconds" → "230 ms" or "1.4 s", "bytes" → "12 MiB", any other unit after the number
// ("340 req/s"), and "" a plain number; a missing value is "no value".
func metricValue(unit string, v *float64) string {
	if v == nil {
		return "no value"
	}
	x := *v
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strings.TrimSpace(strconv.FormatFloat(x, 'f', -1, 64) + " " + unit)
	}
	switch unit {
	case "ratio":
		return sig(x*100) + " %"
	case "percent", "%":
		return sig(x) + " %"
	case "seconds", "s":
		return seconds(x)
	case "bytes", "B":
		return bytesIEC(x)
	case "":
		return scaled(x, "")
	}
	return scaled(x, unit)
}

// sig writes x with three significant digits and no exponent: 12.3, 340, 1234, 0.0123.
func sig(x float64) string {
	if x == 0 {
		return "0"
	}
	e := int(math.Floor(math.Log10(math.Abs(x))))
	s := strconv.FormatFloat(x, 'f', max(2-e, 0), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// scaled writes a count or a rate with an SI prefix from ten thousand on: "340 req/s",
// "12.3 k req/s", "1.23 M".
func scaled(x float64, unit string) string {
	prefix := ""
	for _, p := range []struct {
		at   float64
		name string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e4, "k"}} {
		if math.Abs(x) >= p.at {
			if p.name == "k" {
				x /= 1e3
			} else {
				x /= p.at
			}
			prefix = p.name
			break
		}
	}
	return strings.Join(strings.Fields(sig(x)+" "+prefix+" "+unit), " ")
}

func seconds(x float64) string {
	a := math.Abs(x)
	switch {
	case a == 0:
		return "0 s"
	case a < 1e-3:
		return sig(x*1e6) + " µs"
	case a < 1:
		return sig(x*1e3) + " ms"
	case a < 120:
		return sig(x) + " s"
	case a < 2*3600:
		return sig(x/60) + " min"
	case a < 2*86400:
		return sig(x/3600) + " h"
	}
	return sig(x/86400) + " d"
}

func bytesIEC(x float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for math.Abs(x) >= 1024 && i < len(units)-1 {
		x /= 1024
		i++
	}
	return sig(x) + " " + units[i]
}

// changePercent writes a change in percent with its sign: "+41 %", "-12.5 %", "" when unknown.
// It is digits and signs only, so it needs no escaping.
func changePercent(v *float64) markdown {
	if v == nil {
		return ""
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) {
		return ""
	}
	if *v > 0 {
		return markdown("+" + sig(*v) + " %")
	}
	return markdown(sig(*v) + " %")
}

// offset says how far back "before" is: "1 h", "30 min", "1 h 30 min".
func offset(minutes int) string {
	h, m := minutes/60, minutes%60
	switch {
	case minutes <= 0:
		return "< 1 min"
	case h == 0:
		return fmt.Sprintf("%d min", m)
	case m == 0:
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// threshold is the alert expression's comparison in its unit: "> 5 %", or "" when unknown.
func threshold(m triaged.MetricEvidence) string {
	if m.Comparison == "" || m.Threshold == nil {
		return ""
	}
	return m.Comparison + " " + metricValue(m.Unit, m.Threshold)
}

// graphLink is the link to a metric's graph: a Markdown link to the daemon's path, which a
// browser reading the report from triaged's API follows; "" when no graph was rendered.
func graphLink(m triaged.MetricEvidence) markdown {
	if m.Graph == "" {
		return ""
	}
	if strings.HasPrefix(m.Graph, "/") && !strings.HasPrefix(m.Graph, "//") {
		return markdown("[graph](" + destinationEscaper.Replace(m.Graph) + ")")
	}
	return link("graph", m.Graph)
}

// codeList prints each text in a code span, joined by sep: the queries that measured the impact.
func codeList(items []string, sep string) markdown {
	out := make([]string, 0, len(items))
	for _, s := range items {
		if c := code(s); c != "" {
			out = append(out, string(c))
		}
	}
	return markdown(strings.Join(out, sep))
}
