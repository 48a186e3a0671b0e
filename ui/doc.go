// Package ui is the web UI the daemon serves: the pages an on-call engineer keeps open during an
// incident (incidents, one incident with its timeline and evidence, deploys, dead letters,
// status) and the ones a rule author works in (rules, playground).
//
// Pages are rendered on the server with html/template from templates embedded in the binary;
// the little JavaScript there is (live updates over Server-Sent Events, the playground, local
// times) is embedded too, so the UI works offline and needs no build step. Everything an alert
// carries is untrusted: templates escape by context, links are kept only for http(s) URLs, and
// every page is served under a Content Security Policy that allows no inline script and nothing
// from another origin.
package ui
