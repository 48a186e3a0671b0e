// Package deploy records deploy events from CI/CD in a JetStream stream, indexes them in memory
// on every replica, and finds the deploys that happened shortly before an incident.
//
// A deploy event arrives by HTTP (NewHandler, POST /api/v1/deploys) or is published by a CI job
// directly on PREFIX.deploys.<service>. Either way it lands on the deploys stream, the one
// source of truth; each replica's Index reads that stream from the start with an ordered
// consumer, so it is rebuilt at every start and Correlate answers without a network round trip.
package deploy
