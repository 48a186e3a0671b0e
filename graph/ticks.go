package graph

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
)

// timeTicks marks the time axis at round UTC times, a step of which gives at most maxTimeTicks
// ticks: "14:20", "14:25", …; "Jan 2 15:04" when the axis spans days.
type timeTicks struct{}

const maxTimeTicks = 8

var timeSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if !(span > 0) || math.IsInf(span, 0) {
		return nil
	}
	step := float64(timeSteps[len(timeSteps)-1] / time.Second)
	for _, d := range timeSteps {
		if s := float64(d / time.Second); span/s <= maxTimeTicks {
			step = s
			break
		}
	}
	if span/step > maxTimeTicks { // beyond a week: whole days
		step = math.Ceil(span/maxTimeTicks/86400) * 86400
	}
	format := "15:04"
	switch {
	case span > 180*86400:
		format = "2006-01-02"
	case step >= 86400:
		format = "Jan 2"
	case span > 86400:
		format = "Jan 2 15:04"
	case step < 60:
		format = "15:04:05"
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		sec, frac := math.Modf(v)
		ticks = append(ticks, plot.Tick{Value: v, Label: time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(format)})
	}
	return ticks
}

// valueTicks marks the value axis where plot.DefaultTicks does, labelled in the unit.
type valueTicks struct{ unit string }

func (t valueTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	var major []float64
	for _, tk := range ticks {
		if tk.Label != "" {
			major = append(major, tk.Value)
		}
	}
	f := formatter(t.unit, major)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = f(ticks[i].Value)
		}
	}
	return ticks
}

// A format scales a value into a display unit: the largest of the scales that the biggest
// tick reaches. Scales are sorted by their factor, ascending.
type scale struct {
	from   float64 // the scale applies to values from this magnitude on
	factor float64 // the value is divided by it
	suffix string
}

var formats = map[string][]scale{
	"ratio":   {{0, 0.01, " %"}},
	"percent": {{0, 1, " %"}},
	"seconds": {{0, 1e-6, " µs"}, {1e-3, 1e-3, " ms"}, {1, 1, " s"}, {600, 60, " min"}, {36000, 3600, " h"}},
	"bytes":   {{0, 1, " B"}, {1 << 10, 1 << 10, " KiB"}, {1 << 20, 1 << 20, " MiB"}, {1 << 30, 1 << 30, " GiB"}, {1 << 40, 1 << 40, " TiB"}},
	"req/s":   {{0, 1, " req/s"}},
}

// formatter labels the ticks of one axis alike: one scale, and as many decimals as the ticks
// need (at most 6).
func formatter(unit string, ticks []float64) func(float64) string {
	scales, ok := formats[unit]
	if !ok {
		scales = []scale{{0, 1, ""}}
	}
	var biggest float64
	for _, v := range ticks {
		biggest = math.Max(biggest, math.Abs(v))
	}
	sc := scales[0]
	for _, s := range scales {
		if biggest >= s.from {
			sc = s
		}
	}
	decimals := 0
	for ; decimals < 6; decimals++ {
		if exact(ticks, sc.factor, math.Pow10(decimals)) {
			break
		}
	}
	return func(v float64) string {
		x := v / sc.factor
		if math.Abs(x) >= 1e7 {
			return strconv.FormatFloat(x, 'g', 3, 64) + sc.suffix
		}
		s := strconv.FormatFloat(x, 'f', decimals, 64)
		if strings.Trim(s, "-0.") == "" {
			s = "0" // not "-0" or "0.00"
		}
		return fmt.Sprint(s, sc.suffix)
	}
}

// exact says whether every tick, divided by factor, is a whole number of 1/pow.
func exact(ticks []float64, factor, pow float64) bool {
	for _, v := range ticks {
		x := v / factor * pow
		if math.Abs(x-math.Round(x)) > 1e-6*math.Max(1, math.Abs(x)) {
			return false
		}
	}
	return true
}
