// Package triage turns alert messages into incident reports: a worker pool on the shared durable
// consumer decides which incident an alert opens, updates or resolves, classifies it, builds the
// report, puts it on the reports stream, and only then acknowledges the alert.
package triage
