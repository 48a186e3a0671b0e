package triaged

// IncidentChannel is the dedicated channel a chat sink opened for an incident, as that sink's
// copy of a report shows it (the Communication section, the root message). It is never set on
// the reports stream: each sink fills in its own before rendering.
type IncidentChannel struct {
	// Name is the channel as people type it: "#incident-20261126-checkout-servicedown".
	Name string `json:"name"`
	// URL opens the channel, when the service gives one.
	URL string `json:"url,omitempty"`
	// Unavailable says why the incident has no dedicated channel in this sink although its
	// severity asks for one ("the Slack app lacks the channels:manage scope"); the team channel
	// then has every report. Name may be empty.
	Unavailable string `json:"unavailable,omitempty"`
}
