package triaged_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
)

func labelled(kv ...string) *triaged.Alert {
	a := &triaged.Alert{Alert: template.Alert{Labels: template.KV{}}}
	for i := 0; i+1 < len(kv); i += 2 {
		a.Labels[kv[i]] = kv[i+1]
	}
	return a
}

// The default precedence names the system an alert is about before the exporter that reported it.
func TestDefaultServicePrecedence(t *testing.T) {
	tests := []struct {
		name       string
		alert      *triaged.Alert
		want, from string
	}{
		{"service first", labelled("service", "checkout", "app", "web", "job", "x"), "checkout", "label service"},
		{"app before workloads", labelled("app", "web", "deployment", "web-v2"), "web", "label app"},
		{"deployment before namespace and job", labelled("deployment", "checkout-api", "namespace", "payments", "job", "checkout"), "checkout-api", "label deployment"},
		{"statefulset", labelled("statefulset", "orders-db", "namespace", "payments"), "orders-db", "label statefulset"},
		{"daemonset", labelled("daemonset", "log-agent", "namespace", "payments"), "log-agent", "label daemonset"},
		{"container before namespace", labelled("container", "api", "namespace", "payments"), "api", "label container"},
		{"namespace before job", labelled("namespace", "payments", "job", "checkout"), "payments", "label namespace"},
		{"job last", labelled("job", "checkout"), "checkout", "label job"},
		{"an empty label is an absent one", labelled("service", "", "job", "checkout"), "checkout", "label job"},
		{"kube-state-metrics names the exporter, the deployment the system",
			labelled("service", "kube-state-metrics", "job", "kube-state-metrics", "deployment", "checkout-api", "namespace", "payments"),
			"checkout-api", "label deployment"},
		{"an exporter job gives way to the namespace", labelled("job", "node-exporter", "namespace", "monitoring"), "monitoring", "label namespace"},
		{"an exporter when nothing else names the system", labelled("job", "mysqld-exporter", "instance", "mysql-0:9104"),
			"mysqld-exporter", "label job (an exporter: no other label names the system)"},
		{"the first exporter when all are", labelled("service", "kube-state-metrics", "job", "blackbox-http"),
			"kube-state-metrics", "label service (an exporter: no other label names the system)"},
		{"nothing", labelled("alertname", "X", "instance", "h:1"), triaged.UnknownService, "no label of defaults.service_labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := triaged.LabelledService(tt.alert)
			if s.Name != tt.want || s.From != tt.from {
				t.Errorf("got %q (%q), want %q (%q)", s.Name, s.From, tt.want, tt.from)
			}
		})
	}
}

// A configured precedence is the whole precedence: labels it leaves out name nothing.
func TestConfiguredServicePrecedence(t *testing.T) {
	l := triaged.Labelling{ServiceLabels: []string{"job", "service"}}
	tests := []struct {
		alert      *triaged.Alert
		want, from string
	}{
		{labelled("service", "checkout", "job", "node-exporter"), "node-exporter", "label job"},
		{labelled("service", "checkout"), "checkout", "label service"},
		{labelled("deployment", "checkout"), triaged.UnknownService, "no label of defaults.service_labels"},
	}
	for _, tt := range tests {
		if s := l.Service(tt.alert); s.Name != tt.want || s.From != tt.from {
			t.Errorf("%v: got %q (%q), want %q (%q)", tt.alert.Labels, s.Name, s.From, tt.want, tt.from)
		}
	}
}

// Without an environment label the environment is the configured default, said to be assumed;
// without a default it is unknown, never silently production.
func TestEnvironmentDefault(t *testing.T) {
	tests := []struct {
		name    string
		def     string
		alert   *triaged.Alert
		env     string
		from    string
		assumed bool
	}{
		{"env label", "production", labelled("env", "staging"), "staging", "label env", false},
		{"environment label", "production", labelled("environment", "dev"), "dev", "label environment", false},
		{"env before environment", "", labelled("env", "a", "environment", "b"), "a", "label env", false},
		{"assumed", "production", labelled("service", "x"), "production", "assumed from defaults.environment: no env or environment label", true},
		{"no default: unknown", "", labelled("service", "x"), "", "no env or environment label", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := triaged.DefaultLabelling()
			l.Environment = tt.def
			s := l.Service(tt.alert)
			if s.Environment != tt.env || s.EnvironmentFrom != tt.from || s.EnvironmentAssumed != tt.assumed {
				t.Errorf("got %q (%q, assumed %v), want %q (%q, assumed %v)", s.Environment, s.EnvironmentFrom, s.EnvironmentAssumed, tt.env, tt.from, tt.assumed)
			}
		})
	}
}

// On the real-world corpus, the default precedence names far fewer exporters as the affected
// service than the old one (service, job, app) did: an exporter remains only where no label names
// anything else (a database or Elasticsearch exporter scraped outside Kubernetes).
func TestCorpusServicesAreNotExporters(t *testing.T) {
	raw, err := os.ReadFile("testdata/alert-corpus/alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []*triaged.Alert
	if err := json.Unmarshal(raw, &alerts); err != nil {
		t.Fatal(err)
	}
	old := triaged.Labelling{ServiceLabels: []string{"service", "job", "app"}}
	exporters := triaged.Labelling{Exporters: triaged.DefaultExporters}
	var before, after, unknown int
	for _, a := range alerts {
		if exporters.IsExporter(old.Service(a).Name) {
			before++
		}
		s := triaged.LabelledService(a)
		if exporters.IsExporter(s.Name) {
			after++
		}
		if !s.Known() {
			unknown++
		}
	}
	t.Logf("%d alerts: %d named an exporter before, %d now; %d name no service", len(alerts), before, after, unknown)
	// 127 before; the 75 left are the exporters scraped with job and instance labels only.
	if before < 100 || after > before*2/3 {
		t.Errorf("%d of %d alerts resolve to an exporter (%d with the old precedence): want at most two thirds", after, len(alerts), before)
	}
}

// Sinks that show the environment as a field mark an assumed one.
func TestEnvironmentShown(t *testing.T) {
	for _, tc := range []struct {
		rep  triaged.Report
		want string
	}{
		{triaged.Report{Environment: "prod"}, "prod"},
		{triaged.Report{Environment: "production", EnvironmentAssumed: true}, "production (assumed)"},
		{triaged.Report{}, ""},
	} {
		if got := tc.rep.EnvironmentShown(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.rep, got, tc.want)
		}
	}
}
