// Package ingest is triaged's HTTP intake: it takes Alertmanager webhooks, has the root package
// decode and validate them, and answers 200 only once every alert is on the alerts stream, so
// Alertmanager's retry rule (never retry a 4xx, always retry a 5xx) loses nothing.
package ingest
