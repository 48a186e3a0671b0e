// Package notify renders a triaged.Report as the workflow's Markdown incident report and delivers
// it to one kind of sink (stdout, a JSON-lines file). The kinds of sink are listed once, in
// kinds.go: PlanSink checks a configured sink without side effects, SinkPlan.Open builds it.
package notify
