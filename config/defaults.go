package config

import (
	"fmt"
	"path"
	"slices"

	"github.com/triaged/triaged"
)

// Defaults say what triage takes an alert's service and environment to be when the service
// catalog does not say, from the alert's labels or, for the environment, by assumption.
type Defaults struct {
	// Environment is assumed when neither the catalog nor an environment label names one; the
	// report says it was assumed. "" assumes nothing: the environment is reported as unknown.
	Environment string `yaml:"environment"`
	// EnvironmentLabels name the environment, tried in order.
	EnvironmentLabels []string `yaml:"environment_labels"`
	// ServiceLabels name the service, tried in order: the first that is set and does not name an
	// exporter wins. Catalog entries without a match are matched by this name too.
	ServiceLabels []string `yaml:"service_labels"`
	// Exporters are patterns (path.Match: *, ?, [a-z]) of label values that name a metrics
	// exporter rather than the system it watches; such a value names the service only when no
	// other label of ServiceLabels does.
	Exporters []string `yaml:"exporters"`
}

func defaultDefaults() Defaults {
	return Defaults{
		EnvironmentLabels: slices.Clone(triaged.DefaultEnvironmentLabels),
		ServiceLabels:     slices.Clone(triaged.DefaultServiceLabels),
		Exporters:         slices.Clone(triaged.DefaultExporters),
	}
}

// Labelling is the defaults as triage applies them.
func (c *Config) Labelling() triaged.Labelling {
	d := c.Defaults
	return triaged.Labelling{
		ServiceLabels: d.ServiceLabels, Exporters: d.Exporters,
		EnvironmentLabels: d.EnvironmentLabels, Environment: d.Environment,
	}
}

func (c *Config) validateDefaults(v check) {
	d := c.Defaults
	labelList(v, "defaults.service_labels", d.ServiceLabels)
	labelList(v, "defaults.environment_labels", d.EnvironmentLabels)
	for i, p := range d.Exporters {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			v.At(fmt.Sprintf("defaults.exporters[%d]", i), "%q is not a valid pattern (path.Match: *, ?, [a-z])", p)
		}
	}
}

// labelList checks a list of label names: at least one, none empty or given twice.
func labelList(v check, at string, names []string) {
	if len(names) == 0 {
		v.At(at, "must name at least one label")
	}
	for i, n := range names {
		switch {
		case n == "":
			v.At(fmt.Sprintf("%s[%d]", at, i), "empty label name")
		case slices.Index(names, n) < i:
			v.At(fmt.Sprintf("%s[%d]", at, i), "label %q is listed twice", n)
		}
	}
}
