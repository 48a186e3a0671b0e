// Package promtest runs Debian's real Prometheus for end-to-end tests: started by the test on
// loopback, scraping a Target whose request counters follow rates the test sets, logging every
// query it runs, so a test can assert on the numbers Prometheus computes and on the exact PromQL
// triaged sent it.
//
// Usage:
//
//	tgt := promtest.NewTarget(t)
//	tgt.SetRate("checkout", "200", 300) // http_requests_total{service="checkout",code="200"} grows 300/s
//	tgt.SetRate("checkout", "500", 40)
//	p := promtest.Start(t, promtest.Options{Targets: []string{tgt.URL()}})
//	// … point triaged at p.URL(), have it query …
//	for _, e := range p.QueryLog() { … e.Query … }
//
// Start returns once Prometheus is ready (0.1–0.6 s) and has scraped every target once. Prometheus
// 2.42 (Debian 12) hands discovered targets to its scrapers at most every 5 s, a throttle later
// versions made configurable, so that first scrape comes 5–6.5 s after the process starts; its
// Alertmanagers are found as late, and it resends firing alerts every second (not every minute)
// so the first reaches Options.Alertmanager soon after. Measured on 2 shared cores:
// rate(x[2s]) is exact from the second scrape on, about 6.6 s after Start is called, while
// rate(x[5s]) reads 30 % of the truth then and reaches it four scrapes later (about 9.7 s):
// rate() extrapolates only half a scrape interval past a window's first sample. End-to-end
// tests here should use windows of 2s in their rules and queries, and expect no history: an
// offset of an hour finds nothing.
//
// Every query Prometheus evaluates is in QueryLog: those triaged sent over HTTP, the harness'
// own (Query and Value; marked Harness) and the rule evaluations (with their RuleGroup). The
// process runs in a process group of its own that is killed when the test ends, however it ends,
// and dies with the test binary.
//
// Prometheus comes from PATH (Debian's package prometheus, which .ci/run installs); without it
// the test is skipped, or fails when the CI variable is set.
package promtest
