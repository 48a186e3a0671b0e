// Package enrich gathers what an incident report needs beyond the alert — recent deploys of the
// service and its dependencies, health probes, log tails, the runbook and what the service's own
// Prometheus says — concurrently, under one deadline per incident, and never fails: what it
// could not collect is recorded, with why.
package enrich
