//go:build race

package app_test

// raceDetector: the race detector makes encoding ten times slower; the largest tests scale down.
const raceDetector = true
