package triaged

import (
	"path"
	"strings"
)

// DefaultServiceLabels is the default precedence of the labels that name an alert's service when
// the service catalog does not: the system the alert is about (its service, app or workload)
// before the namespace it runs in, and the scrape job last, since a job usually names the exporter
// that reported the alert rather than the system it is about.
var DefaultServiceLabels = []string{"service", "app", "deployment", "statefulset", "daemonset", "container", "namespace", "job"}

// DefaultEnvironmentLabels name an alert's environment, tried in order.
var DefaultEnvironmentLabels = []string{"env", "environment"}

// DefaultExporters are the label values (path.Match patterns) that name a metrics exporter rather
// than the system it watches: kube-prometheus puts service="kube-state-metrics" on an alert about
// a deployment, and job="mysqld-exporter" on one about a database.
var DefaultExporters = []string{"*-exporter", "*_exporter", "kube-state-metrics", "blackbox*"}

// Labelling decides an alert's service and environment from its own labels, when the service
// catalog does not: the configured `defaults:` block. Its zero value is usable and names nothing.
type Labelling struct {
	// ServiceLabels are tried in order; the first with a non-empty value that is not an exporter
	// names the service.
	ServiceLabels []string
	// Exporters are path.Match patterns of label values that name an exporter: such a value names
	// the service only when no later label in ServiceLabels names anything else.
	Exporters []string
	// EnvironmentLabels are tried in order for the environment.
	EnvironmentLabels []string
	// Environment is assumed when neither the catalog nor a label says, and reported as assumed;
	// "" assumes nothing.
	Environment string
}

// DefaultLabelling is the labelling without a config: the default precedences, and no assumed
// environment.
func DefaultLabelling() Labelling {
	return Labelling{ServiceLabels: DefaultServiceLabels, Exporters: DefaultExporters, EnvironmentLabels: DefaultEnvironmentLabels}
}

// Service is the service the alert's labels name, with its environment.
func (l Labelling) Service(a *Alert) Service {
	s := Service{Name: UnknownService, From: "no label of defaults.service_labels"}
	if label, value, exporter := l.ServiceName(a); value != "" {
		s.Name, s.From = value, "label "+label
		if exporter {
			s.From += " (an exporter: no other label names the system)"
		}
	}
	s.Environment, s.EnvironmentFrom, s.EnvironmentAssumed = l.Env(a)
	return s
}

// ServiceName is the label that names the alert's service and its value, "" when none does.
// exporter says the value names an exporter, because no label names anything else.
func (l Labelling) ServiceName(a *Alert) (label, value string, exporter bool) {
	for _, n := range l.ServiceLabels {
		v := a.Labels[n]
		if v == "" {
			continue
		}
		if !l.IsExporter(v) {
			return n, v, false
		}
		if value == "" {
			label, value = n, v
		}
	}
	return label, value, value != ""
}

// Env is the alert's environment from its labels, else the assumed default, and how it was
// decided.
func (l Labelling) Env(a *Alert) (env, from string, assumed bool) {
	for _, n := range l.EnvironmentLabels {
		if v := a.Labels[n]; v != "" {
			return v, "label " + n, false
		}
	}
	none := "no " + orList(l.EnvironmentLabels) + " label"
	if l.Environment == "" {
		return "", none, false
	}
	return l.Environment, "assumed from defaults.environment: " + none, true
}

// IsExporter reports whether the label value v names an exporter by l.Exporters.
func (l Labelling) IsExporter(v string) bool {
	for _, p := range l.Exporters {
		if ok, _ := path.Match(p, v); ok {
			return true
		}
	}
	return false
}

// orList writes names as "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return "such"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
