package graph

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)

// ramp is n samples every 15 seconds from t0, rising from 0 to 1.
func ramp(n int) []Point {
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{T: t0.Add(time.Duration(i) * 15 * time.Second), V: float64(i) / float64(n-1)}
	}
	return pts
}

func decode(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the graph is not a PNG: %v", err)
	}
	return img
}

func render(t testing.TB, s Spec) image.Image {
	t.Helper()
	b, err := Render(s)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return decode(t, b)
}

// near says whether c is within a small distance of want, per channel: anti-aliasing blends
// the edges of a line, not its middle.
func near(c, want color.RGBA) bool {
	d := func(a, b uint8) bool { return int(a)-int(b) <= 12 && int(b)-int(a) <= 12 }
	return d(c.R, want.R) && d(c.G, want.G) && d(c.B, want.B)
}

// rows counts, per row, the pixels of colour want; cols per column.
func rows(img image.Image, want color.RGBA) []int {
	b := img.Bounds()
	n := make([]int, b.Dy())
	each(img, func(x, y int, c color.RGBA) {
		if near(c, want) {
			n[y]++
		}
	})
	return n
}

func cols(img image.Image, want color.RGBA) []int {
	b := img.Bounds()
	n := make([]int, b.Dx())
	each(img, func(x, y int, c color.RGBA) {
		if near(c, want) {
			n[x]++
		}
	})
	return n
}

// each calls f with every pixel of img (opaque, as Render draws them), reading an RGBA image's
// bytes directly: image.At is slow under the race detector.
func each(img image.Image, f func(x, y int, c color.RGBA)) {
	b := img.Bounds()
	if m, ok := img.(*image.RGBA); ok {
		for y := 0; y < b.Dy(); y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < b.Dx(); x++ {
				f(x, y, color.RGBA{R: row[4*x], G: row[4*x+1], B: row[4*x+2], A: row[4*x+3]})
			}
		}
		return
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			f(x, y, color.RGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA))
		}
	}
}

// lines are the indexes whose count is at least min.
func lines(counts []int, min int) []int {
	var out []int
	for i, n := range counts {
		if n >= min {
			out = append(out, i)
		}
	}
	return out
}

func TestRenderSize(t *testing.T) {
	for _, tt := range []struct{ w, h, wantW, wantH int }{
		{0, 0, DefaultWidth, DefaultHeight},
		{400, 200, 400, 200},
		{333, 167, 333, 167},
		{MinWidth, MinHeight, MinWidth, MinHeight},
	} {
		img := render(t, Spec{Title: "size", Unit: "ratio", Points: ramp(100), Width: tt.w, Height: tt.h})
		if b := img.Bounds(); b != image.Rect(0, 0, tt.wantW, tt.wantH) {
			t.Errorf("Spec %dx%d: PNG bounds %v, want %dx%d", tt.w, tt.h, b, tt.wantW, tt.wantH)
		}
	}
}

func TestRenderSizeOutOfBounds(t *testing.T) {
	for _, sz := range [][2]int{{-1, 300}, {800, -5}, {MaxWidth + 1, 300}, {800, MaxHeight + 1}, {MinWidth - 1, 300}, {100000, 100000}} {
		_, err := Render(Spec{Title: "big", Width: sz[0], Height: sz[1]})
		if err == nil || !strings.Contains(err.Error(), "out of bounds") {
			t.Errorf("size %v: err %v, want out of bounds", sz, err)
		}
	}
}

func TestRenderThresholdAndMarker(t *testing.T) {
	const w, h = 400, 150
	for _, tt := range []struct {
		name       string
		threshold  float64
		rowLo      int // the threshold's row is in [rowLo, rowHi)
		rowHi      int
		marker     int // sample index of the marker
		colLo      int
		colHi      int
		wantMarked bool
	}{
		{name: "high threshold, early marker", threshold: 0.9, rowLo: 0, rowHi: h * 2 / 5, marker: 60, colLo: w / 8, colHi: w * 2 / 5},
		{name: "low threshold, late marker", threshold: 0.1, rowLo: h / 2, rowHi: h, marker: 180, colLo: w * 3 / 5, colHi: w * 9 / 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pts := ramp(241) // an hour
			th := tt.threshold
			img := render(t, Spec{Title: "error_ratio", Unit: "ratio", Points: pts, Threshold: &th, Marker: pts[tt.marker].T, Width: w, Height: h})

			ths := lines(rows(img, thresholdColor), w/3) // dashed: more than a third of the width
			if len(ths) == 0 {
				t.Fatalf("no row holds the threshold's colour across a third of the width")
			}
			for _, y := range ths {
				if y < tt.rowLo || y >= tt.rowHi {
					t.Errorf("threshold colour in row %d, want rows %d to %d", y, tt.rowLo, tt.rowHi)
				}
			}
			mks := lines(cols(img, markerColor), h/3) // solid, across the plot: more than a third of the height
			if len(mks) == 0 {
				t.Fatalf("no column holds the marker's colour across a third of the height")
			}
			for _, x := range mks {
				if x < tt.colLo || x >= tt.colHi {
					t.Errorf("marker colour in column %d, want columns %d to %d", x, tt.colLo, tt.colHi)
				}
			}
		})
	}
	t.Run("neither", func(t *testing.T) {
		img := render(t, Spec{Title: "error_ratio", Unit: "ratio", Points: ramp(241), Width: w, Height: h})
		if n := lines(rows(img, thresholdColor), 1); len(n) > 0 {
			t.Errorf("threshold colour drawn without a threshold, rows %v", n)
		}
		if n := lines(cols(img, markerColor), 1); len(n) > 0 {
			t.Errorf("marker colour drawn without a marker, columns %v", n)
		}
		if n := lines(cols(img, seriesColor), 1); len(n) < w/2 {
			t.Errorf("the series spans %d columns, want more than half the width", len(n))
		}
	})
}

func TestRenderNoData(t *testing.T) {
	const w, h = 400, 150
	nan := []Point{{T: t0, V: math.NaN()}, {T: t0.Add(time.Minute), V: math.NaN()}}
	th := 0.5
	for name, s := range map[string]Spec{
		"no points":  {Title: "empty"},
		"only NaN":   {Title: "nan", Points: nan, Threshold: &th, Marker: t0},
		"zero times": {Title: "zero", Points: []Point{{V: 1}, {V: 2}}},
	} {
		t.Run(name, func(t *testing.T) {
			s.Width, s.Height = w, h
			img := render(t, s)
			if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
				t.Fatalf("bounds %v", b)
			}
			if n := lines(cols(img, seriesColor), 1); len(n) > 0 {
				t.Errorf("series colour drawn in columns %v, with no data", n)
			}
			// "no data" in the middle: dark grey text where the plot would be.
			var text int
			each(img, func(x, y int, c color.RGBA) {
				if y >= h*2/5 && y < h*3/5 && x >= w*2/5 && x < w*3/5 && near(c, noteColor) {
					text++
				}
			})
			if text < 20 {
				t.Errorf("%d pixels of text in the middle, want the words \"no data\"", text)
			}
		})
	}
}

func TestRenderGaps(t *testing.T) {
	missing := ramp(120)
	missing = append(missing[:40:40], missing[80:]...) // the middle third not sampled
	nan := ramp(120)
	for i := 40; i < 80; i++ {
		nan[i].V = math.NaN()
	}
	for name, pts := range map[string][]Point{"missing samples": missing, "NaN": nan} {
		t.Run(name, func(t *testing.T) {
			drawn := lines(cols(render(t, Spec{Title: "gaps", Points: pts, Width: 400, Height: 150}), seriesColor), 1)
			if len(drawn) == 0 {
				t.Fatal("no series drawn")
			}
			lo, hi := drawn[0], drawn[len(drawn)-1]
			third := (hi - lo) / 3
			for _, x := range drawn {
				if x > lo+third+8 && x < hi-third-8 {
					t.Fatalf("the series is drawn in column %d, inside the gap (%d to %d)", x, lo+third, hi-third)
				}
			}
			if len(drawn) < (hi-lo)/2 {
				t.Errorf("the series is drawn in %d of %d columns, want both sides of the gap", len(drawn), hi-lo)
			}
		})
	}
}

func TestRenderInf(t *testing.T) {
	top := func(pts []Point) int {
		r := lines(rows(render(t, Spec{Title: "inf", Points: pts, Width: 400, Height: 150}), seriesColor), 1)
		if len(r) == 0 {
			t.Fatal("no series drawn")
		}
		return r[0]
	}
	plain := ramp(100)
	withInf := ramp(100)
	withInf[50].V = math.Inf(1)
	withNegInf := ramp(100)
	withNegInf[50].V = math.Inf(-1)
	if a, b := top(plain), top(withInf); b >= a {
		t.Errorf("+Inf: the series' top row is %d, want above the finite values' top row %d (at the edge)", b, a)
	}
	top(withNegInf) // draws
	top([]Point{{T: t0, V: math.Inf(1)}, {T: t0.Add(time.Minute), V: math.Inf(-1)}})
}

// Values and times at the ends of their ranges draw, in bounded time.
func TestRenderExtremes(t *testing.T) {
	th := -math.MaxFloat64
	for name, s := range map[string]Spec{
		"huge threshold":  {Points: ramp(10), Threshold: &th},
		"huge values":     {Points: []Point{{T: t0, V: math.MaxFloat64}, {T: t0.Add(time.Minute), V: -math.MaxFloat64}}, Threshold: &th},
		"tiny values":     {Points: []Point{{T: t0, V: math.SmallestNonzeroFloat64}, {T: t0.Add(time.Minute), V: 0}}},
		"one point":       {Points: []Point{{T: t0, V: 3}}},
		"same time":       {Points: []Point{{T: t0, V: 3}, {T: t0, V: 4}}},
		"distant marker":  {Points: ramp(10), Marker: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
		"distant samples": {Points: []Point{{T: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), V: 1}, {T: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), V: 2}}},
		"NaN threshold":   {Points: ramp(10), Threshold: ptr(math.NaN())},
	} {
		t.Run(name, func(t *testing.T) {
			s.Title, s.Unit, s.Width, s.Height = name, "bytes", MinWidth, MinHeight
			img := render(t, s)
			if b := img.Bounds(); b.Dx() != MinWidth || b.Dy() != MinHeight {
				t.Errorf("bounds %v", b)
			}
			if len(lines(cols(img, seriesColor), 1)) == 0 {
				t.Error("no series drawn")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestSeriesBounded(t *testing.T) {
	const n = 300_000
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{T: t0.Add(time.Duration(i) * time.Second), V: 1 + float64(i%7)/100}
	}
	pts[n/3].V = 50   // a spike of one sample
	pts[2*n/3].V = -9 // and a dip
	xy := series(pts)
	if len(xy) > 3*MaxPoints/2 {
		t.Errorf("%d points drawn of %d, want at most %d", len(xy), n, 3*MaxPoints/2)
	}
	ys := make([]float64, len(xy))
	for i, q := range xy {
		ys[i] = q.Y
	}
	if slices.Max(ys) != 50 || slices.Min(ys) != -9 {
		t.Errorf("downsampled to [%g, %g], want the spike 50 and the dip -9 kept", slices.Min(ys), slices.Max(ys))
	}
	if !slices.IsSortedFunc(xy, byX) {
		t.Error("downsampled points out of time order")
	}
	render(t, Spec{Title: "huge", Points: pts, Width: MinWidth, Height: MinHeight})
}

func TestSeriesUnsorted(t *testing.T) {
	pts := ramp(10)
	slices.Reverse(pts)
	xy := series(pts)
	if !slices.IsSortedFunc(xy, byX) || len(xy) != 10 {
		t.Errorf("series of reversed points: %v", xy)
	}
}

func TestTitleCut(t *testing.T) {
	long := strings.Repeat("checkout-", 100) + "\n\x1b[31mred"
	got := cutTitle(long, MaxTitleRunes)
	if n := utf8.RuneCountInString(got); n > MaxTitleRunes || !strings.HasSuffix(got, "…") {
		t.Errorf("cut title has %d runes (%q), want at most %d ending in …", n, got, MaxTitleRunes)
	}
	if c := cutTitle("a\nb\x1bc\u0085d", 50); c != "abcd" {
		t.Errorf("control characters kept: %q", c)
	}
	if c := cutTitle("error_ratio · checkout", MaxTitleRunes); c != "error_ratio · checkout" {
		t.Errorf("a short title changed: %q", c)
	}
	// A long title renders, cut to the width.
	render(t, Spec{Title: long, Points: ramp(10), Width: MinWidth, Height: MinHeight})
}

func TestValueLabels(t *testing.T) {
	for _, tt := range []struct {
		unit  string
		ticks []float64
		want  []string
	}{
		{"ratio", []float64{0, 0.05, 0.1}, []string{"0 %", "5 %", "10 %"}},
		{"ratio", []float64{0.001, 0.002}, []string{"0.1 %", "0.2 %"}},
		{"percent", []float64{0, 50, 100}, []string{"0 %", "50 %", "100 %"}},
		{"seconds", []float64{0, 0.2, 0.4}, []string{"0 ms", "200 ms", "400 ms"}},
		{"seconds", []float64{0, 2.5, 5}, []string{"0 s", "2.5 s", "5.0 s"}},
		{"seconds", []float64{0.0001, 0.0002}, []string{"100 µs", "200 µs"}},
		{"bytes", []float64{0, 1 << 19, 1 << 20}, []string{"0 MiB", "0.5 MiB", "1.0 MiB"}},
		{"bytes", []float64{0, 2048, 4096}, []string{"0 KiB", "2 KiB", "4 KiB"}},
		{"bytes", []float64{0, 3 << 30}, []string{"0 GiB", "3 GiB"}},
		{"req/s", []float64{0, 150, 300}, []string{"0 req/s", "150 req/s", "300 req/s"}},
		{"", []float64{0, 0.25, 0.5}, []string{"0", "0.25", "0.50"}},
		{"widgets", []float64{-10, 0, 10}, []string{"-10", "0", "10"}},
		{"", []float64{0, 5e7, 1e8}, []string{"0", "5e+07", "1e+08"}},
	} {
		f := formatter(tt.unit, tt.ticks)
		var got []string
		for _, v := range tt.ticks {
			got = append(got, f(v))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("unit %q, ticks %v: labels %q, want %q", tt.unit, tt.ticks, got, tt.want)
		}
	}
}

func TestTimeTicks(t *testing.T) {
	for _, tt := range []struct {
		from, to time.Time
		want     []string
	}{
		{t0.Add(-time.Minute), t0.Add(59 * time.Minute), []string{"14:00", "14:10", "14:20", "14:30", "14:40", "14:50"}},
		// In another zone, still UTC.
		{t0.In(time.FixedZone("CET", 3600)), t0.Add(30 * time.Minute).In(time.FixedZone("CET", 3600)), []string{"14:00", "14:05", "14:10", "14:15", "14:20", "14:25", "14:30"}},
		{t0, t0.Add(3 * 24 * time.Hour), []string{"Nov 27 00:00", "Nov 27 12:00", "Nov 28 00:00", "Nov 28 12:00", "Nov 29 00:00", "Nov 29 12:00"}},
		{t0, t0.Add(800 * 24 * time.Hour), []string{"2026-12-13", "2027-03-23", "2027-07-01", "2027-10-09", "2028-01-17", "2028-04-26", "2028-08-04", "2028-11-12"}},
		{t0, t0.Add(90 * time.Second), []string{"14:00:00", "14:00:15", "14:00:30", "14:00:45", "14:01:00", "14:01:15", "14:01:30"}},
	} {
		var got []string
		for _, tk := range (timeTicks{}).Ticks(unix(tt.from), unix(tt.to)) {
			got = append(got, tk.Label)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s to %s: ticks %q, want %q", tt.from, tt.to, got, tt.want)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	th := 0.8
	for _, n := range []int{240, 100_000} {
		pts := ramp(n)
		b.Run(fmt.Sprintf("%dpoints", n), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				png, err := Render(Spec{Title: "error_ratio · checkout", Unit: "ratio", Points: pts, Threshold: &th, Marker: pts[n/2].T})
				if err != nil {
					b.Fatal(err)
				}
				size = len(png)
			}
			b.ReportMetric(float64(size), "png-bytes")
		})
	}
}
