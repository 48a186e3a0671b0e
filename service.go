package triaged

import "fmt"

// UnknownService is the service of an alert that neither the service catalog nor its own labels
// name.
const UnknownService = "unknown"

// ServiceLabels name an alert's service when the service catalog does not, tried in order.
var ServiceLabels = []string{"service", "job", "app"}

// EnvironmentLabels name an alert's environment when the service catalog does not, tried in order.
var EnvironmentLabels = []string{"env", "environment"}

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
	// Environment is the catalog entry's, else the alert's env or environment label; "" when
	// neither says.
	Environment string `json:"environment,omitempty"`
	// From says how Name was decided, for the reader: "the service catalog, label service",
	// "label job; not in the service catalog", "no service, job or app label".
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

// LabelledService is the service an alert's own labels name: the first non-empty label of
// ServiceLabels, and the environment from EnvironmentLabels. It is the whole decision without a
// service catalog, and the fallback with one.
func LabelledService(a *Alert) Service {
	s := Service{Name: UnknownService, From: "no service, job or app label", Environment: firstLabel(a, EnvironmentLabels)}
	for _, l := range ServiceLabels {
		if v := a.Labels[l]; v != "" {
			s.Name, s.From = v, "label "+l
			break
		}
	}
	return s
}

func firstLabel(a *Alert, names []string) string {
	for _, n := range names {
		if v := a.Labels[n]; v != "" {
			return v
		}
	}
	return ""
}

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
