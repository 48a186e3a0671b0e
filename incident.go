package triaged

import "time"

// EventReopened: the incident fired again within the reopen window after it resolved; it keeps
// its id.
const EventReopened Event = "reopened"

// Incident states.
const (
	IncidentOpen     = "open"
	IncidentResolved = "resolved"
)

// Incident is what Alertmanager grouped: one incident per receiver and group key (or per a
// configured set of labels), with its member alerts. Its severity is the highest of its firing
// members', raised by escalation at the opening. It is kept in the incidents bucket and written
// with compare-and-set, so two workers never open two incidents for one group.
type Incident struct {
	ID string `json:"id"`
	// Key identifies the group: receiver and group key, or the configured labels' values.
	Key         string            `json:"key"`
	Receiver    string            `json:"receiver"`
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels,omitempty"`
	ExternalURL string            `json:"external_url,omitempty"`

	State    string   `json:"state"` // IncidentOpen or IncidentResolved
	Severity Severity `json:"severity"`
	// Decisions are the rules that decided the severity when the incident (re)opened: the
	// classification of its most severe alert, then escalation.
	Decisions []Decision `json:"decisions,omitempty"`
	Service   Service    `json:"service"`

	OpenedAt   time.Time  `json:"opened_at"` // the earliest start of the current episode's members
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`

	// Members are the alerts of the group, at most MaxMembers and within the incident's member
	// budget (see Member.Trimmed); MembersDropped counts the rest.
	Members        []Member `json:"members"`
	MembersDropped int      `json:"members_dropped,omitempty"`

	// Episodes are the firing periods of this incident, oldest first, at most MaxEpisodes: the
	// recurrence and flapping history.
	Episodes []Episode `json:"episodes,omitempty"`
	Flapping bool      `json:"flapping,omitempty"`
	// FlapEdges counts the edges (resolutions and refirings) not reported while flapping;
	// LastEdgeAt is when the last edge was seen.
	FlapEdges  int        `json:"flap_edges,omitempty"`
	LastEdgeAt *time.Time `json:"last_edge_at,omitempty"`

	// ResolutionDue is set while every member has resolved but the resolution is held back (the
	// resolve hold): it is reported then, unless the incident fires again first.
	ResolutionDue *time.Time `json:"resolution_due,omitempty"`

	// Pending are changes not yet reported (coalesced into the next updated report), in words;
	// PendingSince is when the first of them happened.
	Pending      []string   `json:"pending,omitempty"`
	PendingSince *time.Time `json:"pending_since,omitempty"`

	// LastReportAt is when the last report of the incident was made; Seq counts its reports.
	LastReportAt time.Time `json:"last_report_at"`
	Seq          int       `json:"seq"`
	// Reports lists the ids and stream sequences of the incident's reports, oldest first (at
	// most MaxReports kept).
	Reports []ReportRef `json:"reports,omitempty"`

	// Evidence is what the opening found (recent changes, probes, logs, runbook), carried into
	// the updates and the resolution so they never state as a fact what was not looked at.
	Evidence *Enrichment `json:"evidence,omitempty"`
}

// Keys of the incidents bucket: an incident's state is under IncidentStateKey of its group,
// "g.<hash>"; IncidentIndexKey(id) holds the key of an incident's state, which is the group's
// while it is the group's latest incident, and ArchivedIncidentKey(id) once a later incident of
// the group took its place.
const (
	IncidentStatePrefix = "g."
	incidentIndexPrefix = "id."
	incidentArchive     = "a."
)

// IncidentIndexKey is the key that maps incident id to the key of its state.
func IncidentIndexKey(id string) string { return incidentIndexPrefix + id }

// ArchivedIncidentKey is where an incident is kept once a later incident of its group opened.
func ArchivedIncidentKey(id string) string { return incidentArchive + id }

// Bounds of an incident's state: every list kept in the incidents bucket has a limit.
const (
	MaxMembers  = 500
	MaxEpisodes = 50
	MaxReports  = 100
	MaxPending  = 50
)

// Member is one alert of an incident.
type Member struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       *time.Time        `json:"ends_at,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	// Severity and Rule are what the rules classified this alert as, and which rule decided.
	Severity Severity `json:"severity"`
	Rule     string   `json:"rule,omitempty"`
	// Trimmed says the member is kept without its annotations and generator URL: with them, the
	// incident's members would have outgrown their budget in its record, which must fit one NATS
	// message.
	Trimmed bool `json:"trimmed,omitempty"`
}

// Firing reports whether the member is firing.
func (m *Member) Firing() bool { return m.Status == StatusFiring }

// Episode is one firing period of an incident; End is nil while it fires.
type Episode struct {
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end,omitempty"`
}

// ReportRef names one report of an incident and where it is on the reports stream.
type ReportRef struct {
	ID       string    `json:"id"`
	Event    Event     `json:"event"`
	Severity Severity  `json:"severity"`
	At       time.Time `json:"at"`
	Seq      uint64    `json:"stream_seq,omitempty"`
}
