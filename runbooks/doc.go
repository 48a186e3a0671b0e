// Package runbooks finds the runbook for an incident: it loads a library of Markdown runbooks
// with YAML front matter (an embedded default library plus configured directories), compiles each
// runbook's expr match expression once at load, and picks the runbook whose expression holds for
// an alert and its service, with its first steps for the incident report.
//
// The file format, the matching order and the default library are documented in README.md next
// to this file.
package runbooks
