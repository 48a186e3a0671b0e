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
	"time"
	"unicode"
	"unicode/utf8"

	stdfont "golang.org/x/image/font"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Limits of a graph. A Spec comes from an enricher and carries an alert's label values in its
// title, so everything that decides the work or the picture is bounded.
const (
	// MaxPoints bounds the samples drawn. A longer series is cut into MaxPoints/2 buckets of
	// consecutive samples, each drawn as its lowest and its highest sample in time order (and a
	// gap, if the bucket had one), so a spike of one sample survives: averaging would hide it.
	MaxPoints = 2000
	// MaxTitleRunes bounds the title; a longer one is cut and ends in "…". It is also cut to
	// what fits the width, and control characters are dropped.
	MaxTitleRunes = 120
	// The size a Spec may ask for, in pixels; outside them Render returns an error.
	MinWidth  = 200
	MinHeight = 100
	MaxWidth  = 4000
	MaxHeight = 2000
	// GapFactor: two samples further apart than GapFactor times the series' usual interval
	// (its median) have missing samples between them, drawn as a gap.
	GapFactor = 1.5
)

// The colours of a graph, on a white background.
var (
	seriesColor    = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	thresholdColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff} // red
	markerColor    = color.RGBA{R: 0xe8, G: 0x71, B: 0x0a, A: 0xff} // orange
	gridColor      = color.RGBA{R: 0xe4, G: 0xe4, B: 0xe4, A: 0xff}
	noteColor      = color.RGBA{R: 0x60, G: 0x60, B: 0x60, A: 0xff}
)

// maxValue bounds the values drawn as they are: beyond it, the axis's range would overflow, so
// they are drawn at the edge like ±Inf.
const maxValue = 1e300

// dpi is the resolution the plot's lengths (in points) are drawn at.
const dpi = 96

// Render draws s as a PNG of exactly its Width×Height pixels: the series over time (UTC), its
// values read in s.Unit, the threshold dashed, the alert's start marked. A Spec without a
// single value to draw still gives a PNG, one that says "no data". It returns an error only
// for a size out of bounds, or should encoding fail.
func Render(s Spec) ([]byte, error) {
	w, h := s.Width, s.Height
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	if w < MinWidth || w > MaxWidth || h < MinHeight || h > MaxHeight {
		return nil, fmt.Errorf("graph %q: size %dx%d is out of bounds: want %d to %d pixels wide and %d to %d high", cutTitle(s.Title, MaxTitleRunes), w, h, MinWidth, MaxWidth, MinHeight, MaxHeight)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(dpi))
	dc := draw.New(c)
	p := build(s, dc.Max.X-dc.Min.X)
	p.Draw(draw.Crop(dc, vg.Points(6), -vg.Points(10), vg.Points(4), -vg.Points(6)))

	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, c.Image()); err != nil {
		return nil, fmt.Errorf("graph %q: encode PNG: %w", cutTitle(s.Title, MaxTitleRunes), err)
	}
	return b.Bytes(), nil
}

// build lays out the plot of s for a canvas width wide.
func build(s Spec, width vg.Length) *plot.Plot {
	p := plot.New()
	p.BackgroundColor = color.White
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font, &p.X.Tick.Label.Font, &p.Y.Tick.Label.Font} {
		f.Variant = "Sans" // reads better than the default serif at small sizes
	}
	p.Title.TextStyle.Font.Weight = stdfont.WeightBold
	p.Title.Text = fitTitle(p.Title.TextStyle, s.Title, width)
	p.Title.Padding = vg.Points(4)

	xy := series(s.Points)
	ymin, ymax, finite := yRange(xy, s.Threshold)
	if !finite {
		p.HideAxes()
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		p.Add(note{text: "no data", size: 14})
		return p
	}

	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColor, gridColor
	p.Add(grid)

	// +Inf and -Inf are drawn at the edges of the value axis, and said so.
	var inf bool
	for i := range xy {
		switch {
		case math.IsInf(xy[i].Y, 1):
			xy[i].Y, inf = ymax, true
		case math.IsInf(xy[i].Y, -1):
			xy[i].Y, inf = ymin, true
		}
	}
	for _, seg := range segments(xy) {
		if len(seg) == 1 {
			sc, _ := plotter.NewScatter(seg)
			sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			continue
		}
		l, _ := plotter.NewLine(seg) // finite by construction
		l.LineStyle = draw.LineStyle{Color: seriesColor, Width: vg.Points(1.5)}
		p.Add(l)
	}
	if drawableThreshold(s.Threshold) {
		p.Add(hline{y: *s.Threshold})
	}
	if !s.Marker.IsZero() {
		p.Add(vline{x: unix(s.Marker), label: "alert"})
	}
	if inf {
		p.Add(note{text: "±Inf drawn at the edges", size: 8, corner: true})
	}

	// The ranges: the data's, the threshold's and the marker's, padded so no line runs along
	// the frame.
	p.X.Min, p.X.Max = math.Inf(1), math.Inf(-1)
	for _, q := range xy {
		p.X.Min, p.X.Max = math.Min(p.X.Min, q.X), math.Max(p.X.Max, q.X)
	}
	if !s.Marker.IsZero() {
		p.X.Min, p.X.Max = math.Min(p.X.Min, unix(s.Marker)), math.Max(p.X.Max, unix(s.Marker))
	}
	if p.X.Max-p.X.Min < 60 {
		mid := (p.X.Min + p.X.Max) / 2
		p.X.Min, p.X.Max = mid-300, mid+300
	}
	p.Y.Min, p.Y.Max = ymin, ymax

	p.X.Tick.Marker = timeTicks{}
	p.X.Label.Text = "UTC"
	p.X.Label.TextStyle.Font.Size = vg.Points(9)
	p.Y.Tick.Marker = valueTicks{unit: s.Unit}
	if _, known := formats[s.Unit]; !known && s.Unit != "" {
		p.Y.Label.Text = cutTitle(s.Unit, 20)
		p.Y.Label.TextStyle.Font.Size = vg.Points(9)
	}
	return p
}

// series turns points into what is drawn: sorted by time, a NaN where samples are missing,
// and downsampled to at most MaxPoints (plus gaps).
func series(pts []Point) plotter.XYs {
	xy := make(plotter.XYs, 0, len(pts))
	for _, q := range pts {
		if q.T.IsZero() {
			continue
		}
		v := q.V
		if math.Abs(v) > maxValue {
			v = math.Inf(int(math.Copysign(1, v))) // drawn at the edge, as an infinity
		}
		xy = append(xy, plotter.XY{X: unix(q.T), Y: v})
	}
	if !slices.IsSortedFunc(xy, byX) {
		slices.SortStableFunc(xy, byX)
	}
	xy = markGaps(xy)
	if len(xy) > MaxPoints {
		xy = downsample(xy, MaxPoints/2)
	}
	return xy
}

func byX(a, b plotter.XY) int {
	switch {
	case a.X < b.X:
		return -1
	case a.X > b.X:
		return 1
	}
	return 0
}

// markGaps inserts a NaN between two samples further apart than GapFactor times the usual
// interval, the median of (a sample of) the intervals.
func markGaps(xy plotter.XYs) plotter.XYs {
	if len(xy) < 3 {
		return xy
	}
	stride := max(1, (len(xy)-1)/1024)
	var dts []float64
	for i := 1; i < len(xy); i += stride {
		if dt := xy[i].X - xy[i-1].X; dt > 0 {
			dts = append(dts, dt)
		}
	}
	if len(dts) == 0 {
		return xy
	}
	slices.Sort(dts)
	limit := GapFactor * dts[len(dts)/2]
	out := make(plotter.XYs, 0, len(xy))
	for i, q := range xy {
		if i > 0 && q.X-xy[i-1].X > limit {
			out = append(out, plotter.XY{X: xy[i-1].X, Y: math.NaN()})
		}
		out = append(out, q)
	}
	return out
}

// downsample cuts xy into n buckets of consecutive samples and keeps of each its lowest and
// highest sample and its first gap, in time order.
func downsample(xy plotter.XYs, n int) plotter.XYs {
	size := (len(xy) + n - 1) / n
	out := make(plotter.XYs, 0, 3*n)
	for start := 0; start < len(xy); start += size {
		b := xy[start:min(start+size, len(xy))]
		lo, hi, gap := -1, -1, -1
		for i, q := range b {
			switch {
			case math.IsNaN(q.Y):
				if gap < 0 {
					gap = i
				}
			case lo < 0:
				lo, hi = i, i
			case q.Y < b[lo].Y:
				lo = i
			case q.Y > b[hi].Y:
				hi = i
			}
		}
		keep := make([]int, 0, 3)
		for _, i := range []int{lo, hi, gap} {
			if i >= 0 && !slices.Contains(keep, i) {
				keep = append(keep, i)
			}
		}
		slices.Sort(keep)
		for _, i := range keep {
			out = append(out, b[i])
		}
	}
	return out
}

// yRange is the value axis's range: the finite values' and the threshold's, padded by a
// twentieth on each side. finite is false when there is not one value to draw.
func yRange(xy plotter.XYs, threshold *float64) (lo, hi float64, finite bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	var drawable bool
	for _, q := range xy {
		switch {
		case math.IsNaN(q.Y):
		case math.IsInf(q.Y, 0):
			drawable = true
		default:
			drawable = true
			lo, hi = math.Min(lo, q.Y), math.Max(hi, q.Y)
		}
	}
	if !drawable {
		return 0, 0, false
	}
	if drawableThreshold(threshold) {
		lo, hi = math.Min(lo, *threshold), math.Max(hi, *threshold)
	}
	switch {
	case math.IsInf(lo, 1): // only infinities
		lo, hi = 0, 1
	case lo == hi:
		d := math.Max(math.Abs(lo)*0.1, 1)
		if lo == 0 {
			return 0, 1, true
		}
		lo, hi = lo-d, hi+d
	}
	pad := (hi - lo) / 20
	if lo >= 0 && lo-pad < 0 {
		return 0, hi + pad, true // a rate or a ratio does not go below 0
	}
	return lo - pad, hi + pad, true
}

func drawableThreshold(t *float64) bool {
	return t != nil && !math.IsNaN(*t) && math.Abs(*t) <= maxValue
}

// segments splits xy at its NaNs into runs to draw as lines.
func segments(xy plotter.XYs) []plotter.XYs {
	var segs []plotter.XYs
	start := 0
	for i := 0; i <= len(xy); i++ {
		if i == len(xy) || math.IsNaN(xy[i].Y) {
			if i > start {
				segs = append(segs, xy[start:i])
			}
			start = i + 1
		}
	}
	return segs
}

func unix(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// cutTitle drops control characters from s and cuts it to n runes, marking the cut.
func cutTitle(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// fitTitle is cutTitle, then shorter until it fits width.
func fitTitle(sty draw.TextStyle, s string, width vg.Length) string {
	s = cutTitle(s, MaxTitleRunes)
	for n := utf8.RuneCountInString(s); n > 1 && sty.Width(s) > width-vg.Points(8); n-- {
		s = cutTitle(s, n-1)
	}
	return s
}

// hline is the threshold: a dashed line across the plot.
type hline struct{ y float64 }

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(h.y)
	c.StrokeLine2(draw.LineStyle{Color: thresholdColor, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(4)}}, c.Min.X, y, c.Max.X, y)
}

// vline is the marker: a vertical line with its label at the top.
type vline struct {
	x     float64
	label string
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	if x < c.Min.X || x > c.Max.X {
		return
	}
	c.StrokeLine2(draw.LineStyle{Color: markerColor, Width: vg.Points(1.5)}, x, c.Min.Y, x, c.Max.Y)
	sty := p.Title.TextStyle
	sty.Font.Weight = stdfont.WeightNormal
	sty.Color, sty.Font.Size, sty.XAlign, sty.YAlign = markerColor, vg.Points(9), draw.XLeft, draw.YTop
	if x+vg.Points(3)+sty.Width(v.label) > c.Max.X {
		sty.XAlign, x = draw.XRight, x-vg.Points(6) // at the right edge: the label goes left
	}
	c.FillText(sty, vg.Point{X: x + vg.Points(3), Y: c.Max.Y - vg.Points(2)}, v.label)
}

// note is a line of text: centred, or in the plot's lower left corner.
type note struct {
	text   string
	size   float64
	corner bool
}

func (n note) Plot(c draw.Canvas, p *plot.Plot) {
	sty := p.Title.TextStyle
	sty.Font.Weight = stdfont.WeightNormal
	sty.Color, sty.Font.Size = noteColor, vg.Points(n.size)
	pt := c.Center()
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	if n.corner {
		sty.XAlign, sty.YAlign = draw.XLeft, draw.YBottom
		pt = vg.Point{X: c.Min.X + vg.Points(3), Y: c.Min.Y + vg.Points(2)}
	}
	c.FillText(sty, pt, n.text)
}
