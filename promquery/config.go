// Package promquery asks a Prometheus-compatible query API (Prometheus, Thanos, Mimir,
// VictoriaMetrics) what it says about an incident: the alert's own expression and the service
// catalog's named queries, with label values of the alert inserted only as PromQL string
// literals. The results are the report's metrics evidence, and the user impact in numbers.
package promquery

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/fielderr"
)

// Server is a Prometheus-compatible query API and how to reach it: configured once under
// `prometheus:`, and again by a service of the catalog whose metrics live elsewhere.
type Server struct {
	// URL is the API's base URL, without /api/v1 ("http://prometheus:9090", a Thanos querier, a
	// Mimir prometheus prefix "http://mimir/prometheus").
	URL string `yaml:"url"`
	// ExternalURLs are the URLs the alerts' generator URLs start with when they differ from URL
	// (Prometheus' --web.external-url): an alert's own expression is only queried when its
	// generator URL points at this server.
	ExternalURLs []string `yaml:"external_urls"`
	// HTTP is the client's basic auth, bearer token (file), TLS and proxy settings, as in
	// Prometheus' and Alertmanager's own http_config.
	HTTP HTTPConfig `yaml:"http_config"`
}

// Settings is the `prometheus:` block of the config: the server, and how every incident's
// queries are run and shown.
type Settings struct {
	Server `yaml:",inline"`
	// Timeout bounds all the queries of one incident; it must leave room within
	// enrichment.timeout, so the opening never waits for a slow Prometheus.
	Timeout confval.Duration `yaml:"timeout"`
	// Before is how far back a catalog query's "before" value is taken.
	Before confval.Duration `yaml:"before"`
	// Window is how long before the alert's start the sparklines and graphs begin (they end at
	// the opening).
	Window confval.Duration `yaml:"window"`
	// Graphs says whether a PNG graph is rendered of each query.
	Graphs bool `yaml:"graphs"`
	// MaxResponseBytes bounds one answer of the query API (the series and points it carries).
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
}

// Defaults of Settings.
const (
	DefaultTimeout = 5 * time.Second
	DefaultBefore  = time.Hour
	DefaultWindow  = time.Hour
	// MaxQueriesPerService bounds a service's catalog queries, so one incident's queries stay few.
	MaxQueriesPerService = 16
	// MaxQueryBytes bounds a catalog query's text.
	MaxQueryBytes = 4096
)

// DefaultSettings are the settings of a config without a `prometheus:` block: no server, so
// no metrics evidence.
func DefaultSettings() Settings {
	return Settings{
		Server:           Server{HTTP: HTTPConfig{commoncfg.DefaultHTTPClientConfig}},
		MaxResponseBytes: DefaultMaxResponseBytes,
		Timeout:          confval.Duration(DefaultTimeout),
		Before:           confval.Duration(DefaultBefore),
		Window:           confval.Duration(DefaultWindow),
		Graphs:           true,
	}
}

// Enabled says a server is configured.
func (s Settings) Enabled() bool { return s.URL != "" }

// QuerySpec is one named query of a service in the catalog, written under its `metrics:`.
type QuerySpec struct {
	// Name is how the report and the escalation rules (metrics.NAME) call it.
	Name string `yaml:"name"`
	// Query is PromQL that may name the alert's values with $service, $environment,
	// $alertname and $labels.NAME where a string value goes ({job=$labels.job}); they are
	// inserted as string literals (escaped as regular expressions after =~ and !~).
	Query string `yaml:"query"`
	// Unit says how the value reads: ratio (0..1, shown in percent), percent, seconds, bytes,
	// req/s, another word, or nothing for a plain number.
	Unit string `yaml:"unit"`
}

// UserImpactSpec names the catalog queries that measure the user impact.
type UserImpactSpec struct {
	// FailingRatio is the query of the share of requests failing (unit ratio or percent).
	FailingRatio string `yaml:"failing_ratio"`
	// RequestRate is the query of the requests per second; optional.
	RequestRate string `yaml:"request_rate"`
}

var validQueryName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Validate checks the connection settings: an http(s) URL without query or fragment, valid
// external URLs and http_config. Errors name the field relative to the server.
func (s *Server) Validate() []*fielderr.Error {
	var errs []*fielderr.Error
	if err := checkBaseURL(s.URL); err != nil {
		errs = append(errs, fielderr.Errorf("url", "%v", err))
	}
	for i, u := range s.ExternalURLs {
		if err := checkBaseURL(u); err != nil {
			errs = append(errs, fielderr.Errorf(fmt.Sprintf("external_urls[%d]", i), "%v", err))
		}
	}
	if err := s.HTTP.Validate(); err != nil {
		errs = append(errs, fielderr.Errorf("http_config", "%v", err))
	}
	return errs
}

// Validate checks the settings when a server is configured.
func (s *Settings) Validate() []*fielderr.Error {
	if !s.Enabled() {
		return nil
	}
	errs := s.Server.Validate()
	if s.Timeout <= 0 {
		errs = append(errs, fielderr.Errorf("timeout", "must be positive"))
	}
	if s.Before.Std() < time.Minute {
		errs = append(errs, fielderr.Errorf("before", "%s: must be at least 1m (reports count it in minutes)", s.Before))
	}
	if s.Window <= 0 || s.Window.Std() > 7*24*time.Hour {
		errs = append(errs, fielderr.Errorf("window", "must be positive and at most 7d"))
	}
	if s.MaxResponseBytes < 1024 || s.MaxResponseBytes > 1<<30 {
		errs = append(errs, fielderr.Errorf("max_response_bytes", "%d is out of range 1024..1073741824", s.MaxResponseBytes))
	}
	return errs
}

func checkBaseURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q has a query or fragment: give the base URL only", raw)
	}
	return nil
}

// CompileQueries checks a service's queries and user-impact names and compiles the queries, in
// order. Errors name the field relative to the service ("metrics[1].query: …"), all of them.
func CompileQueries(specs []QuerySpec, impact *UserImpactSpec) ([]*Template, []*fielderr.Error) {
	var errs []*fielderr.Error
	if len(specs) > MaxQueriesPerService {
		errs = append(errs, fielderr.Errorf("metrics", "%d queries: at most %d per service", len(specs), MaxQueriesPerService))
	}
	seen := map[string]*QuerySpec{}
	var out []*Template
	for i := range specs {
		spec := &specs[i]
		at := fmt.Sprintf("metrics[%d]", i)
		switch {
		case spec.Name == "":
			errs = append(errs, fielderr.Errorf(at+".name", "required"))
		case spec.Name == triaged.AlertExpressionMetric:
			errs = append(errs, fielderr.Errorf(at+".name", "%q is reserved for the alert's own expression", spec.Name))
		case !validQueryName.MatchString(spec.Name):
			errs = append(errs, fielderr.Errorf(at+".name", "%q is not a valid query name (lower-case letters, digits and '_', not starting with a digit: it is read as metrics.NAME by the rules)", spec.Name))
		case seen[spec.Name] != nil:
			errs = append(errs, fielderr.Errorf(at+".name", "query %q is defined twice", spec.Name))
		}
		if spec.Name != "" && seen[spec.Name] == nil {
			seen[spec.Name] = spec
		}
		t, err := Compile(spec.Name, spec.Query, spec.Unit)
		if err != nil {
			errs = append(errs, fielderr.Errorf(at+".query", "%v", err))
			continue
		}
		out = append(out, t)
	}
	if impact != nil {
		check := func(field, name string, required bool) {
			switch {
			case name == "" && required:
				errs = append(errs, fielderr.Errorf("user_impact."+field, "required: the name of the query of the share of requests failing"))
			case name == "":
			case seen[name] == nil:
				errs = append(errs, fielderr.Errorf("user_impact."+field, "no query named %q under metrics", name))
			case field == "failing_ratio" && seen[name].Unit != "ratio" && seen[name].Unit != "percent":
				errs = append(errs, fielderr.Errorf("user_impact."+field, "query %q has unit %q: the failing ratio must have unit ratio (0..1) or percent", name, seen[name].Unit))
			}
		}
		check("failing_ratio", impact.FailingRatio, true)
		check("request_rate", impact.RequestRate, false)
	}
	return out, errs
}
