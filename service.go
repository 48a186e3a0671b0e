package triaged

import "fmt"

// UnknownService is the service of an alert that neither the service catalog nor its own labels
// name.
const UnknownService = "unknown"

// Catalogued says how the service catalog saw an alert. It is written as "none", "in_catalog"
// or "not_in_catalog".
type Catalogued int

const (
	// NoCatalog: no service catalog is configured; the service comes from the alert's labels.
	NoCatalog Catalogued = iota
	// InCatalog: a catalog entry matched; its details fill the Service.
	InCatalog
	// NotInCatalog: a catalog is configured and no entry matches; the service, if any, comes from
	// the alert's labels, and nothing is known of its owners, probes or logs.
	NotInCatalog
)

// Service is the service an alert is about, decided once per alert — by the service catalog,
// falling back to the alert's labels — and handed as it is to classification, enrichment,
// runbook matching and the report, so that all of them speak of the same service.
type Service struct {
	// Name is never empty: UnknownService when nothing names the service.
	Name string `json:"name"`
	// Environment is the catalog entry's, else the alert's first environment label, else the
	// configured default environment (EnvironmentAssumed); "" when none of them says.
	Environment string `json:"environment,omitempty"`
	// EnvironmentFrom says how Environment was decided, for the reader: "the service catalog",
	// "label env", "assumed from defaults.environment: no env or environment label".
	EnvironmentFrom string `json:"environment_from,omitempty"`
	// EnvironmentAssumed: no label or catalog entry said; Environment is the configured default,
	// and a report must say so rather than present it as known.
	EnvironmentAssumed bool `json:"environment_assumed,omitempty"`
	// From says how Name was decided, for the reader: "the service catalog, label service",
	// "label deployment; not in the service catalog", "no service, app, … or job label".
	From      string     `json:"from,omitempty"`
	Catalogue Catalogued `json:"catalogue"`

	// The catalog entry's description; empty unless Catalogue is InCatalog.
	Stack           string   `json:"stack,omitempty"`
	ArchitectureDoc string   `json:"architecture_doc,omitempty"`
	Team            string   `json:"team,omitempty"`
	OnCall          string   `json:"oncall,omitempty"`
	Channel         string   `json:"channel,omitempty"`
	Owners          []string `json:"owners,omitempty"`
	Dependencies    []string `json:"dependencies,omitempty"`
}

// Known reports whether something named the service, so that its deploys can be looked up.
func (s Service) Known() bool { return s.Name != "" && s.Name != UnknownService }

// LabelledService is the service an alert's own labels name under DefaultLabelling: the whole
// decision without a service catalog or a config, and what tests and tools use.
func LabelledService(a *Alert) Service { return DefaultLabelling().Service(a) }

var catalogueNames = [...]string{NoCatalog: "none", InCatalog: "in_catalog", NotInCatalog: "not_in_catalog"}

// MarshalText writes the catalogue state as a word.
func (c Catalogued) MarshalText() ([]byte, error) {
	if c < 0 || int(c) >= len(catalogueNames) {
		return nil, fmt.Errorf("invalid catalogue state %d", int(c))
	}
	return []byte(catalogueNames[c]), nil
}

// UnmarshalText reads what MarshalText writes.
func (c *Catalogued) UnmarshalText(b []byte) error {
	for i, n := range catalogueNames {
		if n == string(b) {
			*c = Catalogued(i)
			return nil
		}
	}
	return fmt.Errorf("invalid catalogue state %q: want none, in_catalog or not_in_catalog", b)
}
