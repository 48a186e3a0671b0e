// Package triage turns Alertmanager notifications into incident reports: a worker pool on the
// shared durable consumer applies each notification to its group's incident (a pure state
// machine over the incidents bucket, written with compare-and-set), classifies and enriches what
// opens, says what changed, and puts the reports on the reports stream before it acknowledges
// the notification.
package triage
