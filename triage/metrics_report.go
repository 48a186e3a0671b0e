package triage

import (
	"fmt"

	"github.com/triaged/triaged"
)

// userImpact is the report's User Impact: the measured one when it was measured, else what the
// rule or the alert's annotation said (stated), with why it was not measured when the catalog
// asked for it. A measurement is the opening's: later reports say so.
func userImpact(stated string, m *triaged.MeasuredImpact, event triaged.Event) string {
	const unknown = "Unknown: no rule or annotation states it yet"
	switch {
	case m != nil && m.Text != "":
		if event == triaged.EventUpdated || event == triaged.EventResolved {
			return m.Text + " (measured at the opening)"
		}
		return m.Text
	case m != nil && m.Why != "":
		if stated != "" {
			return fmt.Sprintf("%s (not measured: %s)", stated, m.Why)
		}
		return "Unknown: not measured: " + m.Why
	case stated != "":
		return stated
	}
	return unknown
}
