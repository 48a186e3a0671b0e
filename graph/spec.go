// Package graph draws the PNG graphs of the metrics evidence: one query's values over the window
// around an incident's start, so a responder can look rather than read.
package graph

import "time"

// Point is one sample of a series.
type Point struct {
	T time.Time
	V float64
}

// Spec is one graph to draw.
type Spec struct {
	// Title is drawn above the plot ("error_ratio · checkout"); Unit labels the value axis and
	// decides how values read ("ratio" as percentages, "seconds", "bytes", …).
	Title string
	Unit  string
	// Points are the series' samples, oldest first; gaps (missing samples) are drawn as gaps.
	Points []Point
	// Threshold, when set, is drawn as a horizontal line (the alert expression's comparison).
	Threshold *float64
	// Marker, when not zero, is drawn as a vertical line: when the alert started.
	Marker time.Time
	// Width and Height are the PNG's size in pixels; 0 takes DefaultWidth and DefaultHeight.
	Width, Height int
}

// The size of a graph when its Spec does not say.
const (
	DefaultWidth  = 800
	DefaultHeight = 300
)
