// Package notify renders reports in the incident-response workflow's words — the INCIDENT REPORT
// when an incident opens or reopens, the STATUS UPDATE, the RESOLUTION NOTIFICATION, each after
// the incident's one-line headline — and an incident's POSTMORTEM skeleton, as Markdown; and it
// delivers reports to one kind of sink (stdout, a JSON-lines file, Slack with threads or an
// incoming webhook, a Mattermost channel with threads or an incoming webhook, a Teams workflow, a
// signed webhook), each chat service in its own format from its own renderer. The Slack and
// Mattermost bot sinks can also open a channel of its own for each serious incident
// (incident_channel: incidentchannel.go, incidentflow.go). The kinds of sink
// are listed once, in kinds.go: PlanSink checks a configured sink without side effects,
// SinkPlan.Open builds it.
package notify
