package config

import (
	"fmt"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/logtail"
	"github.com/triaged/triaged/probe"
)

// validateBudget refuses a report budget that cannot hold: one over what NATS takes (its default
// max payload of 1 MiB, halved, since a report waits in its incident's record before it is
// published), and a service whose log excerpts and probe bodies alone would take more than half
// of it, leaving too little for the alerts, changes and the rest.
func (c *Config) validateBudget(v check) {
	budget := c.Report.MaxBytes
	if budget < triaged.MinReportMaxBytes || budget > triaged.MaxReportMaxBytes {
		v.At("report.max_bytes", "%d is out of range %d..%d: a report must fit, with its incident's record, in NATS' default max payload of 1 MiB",
			budget, triaged.MinReportMaxBytes, triaged.MaxReportMaxBytes)
		return
	}
	for i, s := range c.Services {
		logs, probes := 0, len(s.Probes)*probe.BodyExcerptBytes
		for _, l := range s.Logs {
			logs += logBytes(l)
		}
		if logs+probes <= budget/2 {
			continue
		}
		at := fmt.Sprintf("services[%d].logs", i)
		if len(s.Logs) == 0 {
			at = fmt.Sprintf("services[%d].probes", i)
		}
		what := fmt.Sprintf("the log excerpts of service %q (%d sources, max_bytes %d in all)", s.Name, len(s.Logs), logs)
		if len(s.Probes) > 0 {
			what += fmt.Sprintf(" and its probe bodies (%d probes, %d bytes each)", len(s.Probes), probe.BodyExcerptBytes)
		}
		v.At(at, "%s take %d bytes, over half of report.max_bytes (%d), which the alerts, changes and the rest of a report need: "+
			"lower the sources' max_bytes or raise report.max_bytes", what, logs+probes, budget)
	}
}

// logBytes is the most a log source puts in a report: its max_bytes, or the default.
func logBytes(s logtail.Spec) int {
	n := 0
	switch {
	case s.File != nil:
		n = s.File.MaxBytes
	case s.Command != nil:
		n = s.Command.MaxBytes
	}
	if n <= 0 {
		n = logtail.DefaultMaxBytes
	}
	return n
}
