// Package notify renders a triaged.Report as the workflow's Markdown incident report and delivers
// it to one kind of sink (stdout, a JSON-lines file).
package notify
