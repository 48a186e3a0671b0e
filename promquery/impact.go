package promquery

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/triaged/triaged"
)

// Impact computes the user impact from the evidence of the queries spec names: the share of
// requests failing, and, with a request rate, how many requests per second fail. When the
// failing ratio cannot be read, Text is "" and Why says why.
func Impact(spec UserImpactSpec, metrics []triaged.MetricEvidence) *triaged.MeasuredImpact {
	find := func(name string) *triaged.MetricEvidence {
		for i := range metrics {
			if metrics[i].Name == name {
				return &metrics[i]
			}
		}
		return nil
	}
	mi := &triaged.MeasuredImpact{}
	ratio := find(spec.FailingRatio)
	if ratio == nil {
		mi.Why = fmt.Sprintf("the failing ratio's query %q was not run", spec.FailingRatio)
		return mi
	}
	mi.Queries = append(mi.Queries, ratio.Query)
	var rate *triaged.MetricEvidence
	if spec.RequestRate != "" {
		if rate = find(spec.RequestRate); rate != nil {
			mi.Queries = append(mi.Queries, rate.Query)
		}
	}
	r, why := ratioOf(ratio)
	if why != "" {
		mi.Why = why
		return mi
	}
	mi.FailingRatio = &r
	mi.Text = "≈ " + formatPercent(r*100) + " of requests failing"
	if rate != nil && rate.Now != nil && *rate.Now >= 0 {
		rps := *rate.Now
		affected := r * rps
		mi.RequestRate, mi.Affected = &rps, &affected
		mi.Text += ", about " + roughly(affected) + " req/s affected"
	}
	return mi
}

// ratioOf reads the failing ratio's evidence as a share of 0..1, or says why it cannot.
func ratioOf(ev *triaged.MetricEvidence) (float64, string) {
	switch {
	case ev.Now == nil && ev.Error != "":
		return 0, fmt.Sprintf("the failing ratio (query %s) could not be read: %s", ev.Name, ev.Error)
	case ev.Now == nil:
		return 0, fmt.Sprintf("the failing ratio (query %s) gave no value", ev.Name)
	}
	r := *ev.Now
	if ev.Unit == "percent" {
		r /= 100
	}
	if r < 0 || r > 1 {
		return 0, fmt.Sprintf("the failing ratio (query %s) is %s, not a share between 0 and 1 (unit %q)", ev.Name, strconv.FormatFloat(*ev.Now, 'g', 4, 64), ev.Unit)
	}
	return r, ""
}

// formatPercent writes a percentage as a reader takes it in: whole from 10 %, one decimal
// from 1 %, two significant digits below.
func formatPercent(p float64) string {
	switch {
	case p == 0:
		return "0 %"
	case p >= 10:
		return strconv.FormatFloat(math.Round(p), 'f', -1, 64) + " %"
	case p >= 1:
		return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64) + " %"
	}
	return roughly(p) + " %"
}

// roughly writes n to two significant digits, without an exponent: 340, 12, 0.5.
func roughly(n float64) string {
	if n == 0 || !finite(n) {
		return "0"
	}
	e := int(math.Floor(math.Log10(math.Abs(n))))
	s := strconv.FormatFloat(n, 'f', max(0, 1-e), 64)
	if e > 1 {
		// Two significant digits of a larger number: 3456 is "3500".
		mag := math.Pow(10, float64(e-1))
		s = strconv.FormatFloat(math.Round(n/mag)*mag, 'f', 0, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
