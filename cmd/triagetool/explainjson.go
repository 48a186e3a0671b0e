package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/rules"
)

// writeExplanationJSON writes one alert's decision as a line of JSON: the form the rules API
// answers too (rules.ExplanationJSON).
func writeExplanationJSON(w io.Writer, rs *rules.RuleSet, a *triaged.Alert, svc triaged.Service, i int, now time.Time, opts rules.ExplainOptions) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(rs.ExplainJSON(a, svc, i, now, opts))
}
