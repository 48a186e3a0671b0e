// Package catalog maps an alert to the service the config describes — its environment, stack,
// architecture doc, owners, channel, dependencies, health checks and log sources — so a report
// can say what is affected and who owns it.
package catalog

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/exprpolicy"
	"github.com/triaged/triaged/internal/fielderr"
	"github.com/triaged/triaged/logtail"
	"github.com/triaged/triaged/probe"
	"github.com/triaged/triaged/promquery"
)

// Service is one entry of the catalog, as written in the config's `services:` list.
type Service struct {
	Name            string   `yaml:"name"`
	Match           Match    `yaml:"match"`
	Environment     string   `yaml:"environment"`
	Stack           string   `yaml:"stack"`
	ArchitectureDoc string   `yaml:"architecture_doc"`
	Owners          []string `yaml:"owners"`
	Team            string   `yaml:"team"`
	// OnCall is who is on call for the service: the incident commander until a person takes over.
	OnCall       string   `yaml:"oncall"`
	Channel      string   `yaml:"channel"`
	Dependencies []string `yaml:"dependencies"`
	// Probes and Logs are run for every new incident of the service, concurrently.
	Probes []probe.Spec   `yaml:"probes"`
	Logs   []logtail.Spec `yaml:"logs"`
	// Prometheus is the service's own query API, when its metrics are not in the one under the
	// config's `prometheus:`.
	Prometheus *promquery.Server `yaml:"prometheus"`
	// Metrics are named PromQL queries run for every new incident of the service (the workflow's
	// "Key Metrics to Monitor"); UserImpact names those that measure the user impact.
	Metrics    []promquery.QuerySpec     `yaml:"metrics"`
	UserImpact *promquery.UserImpactSpec `yaml:"user_impact"`

	match   *vm.Program
	queries []*promquery.Template
	checks  []*probe.Compiled
	sources []*logtail.Compiled
}

// Checks are the service's compiled health probes, in config order.
func (s *Service) Checks() []*probe.Compiled { return s.checks }

// LogSources are the service's compiled log sources, in config order.
func (s *Service) LogSources() []*logtail.Compiled { return s.sources }

// Queries are the service's compiled metrics queries, in config order.
func (s *Service) Queries() []*promquery.Template { return s.queries }

// Match says which alerts belong to a service. With neither field set, an alert belongs to the
// service when the label that names its service (the `defaults.service_labels` precedence) equals
// the service's name.
type Match struct {
	// Labels must all be present with these exact values.
	Labels map[string]string `yaml:"labels"`
	// Expr is a boolean expr expression over alertname, labels and annotations.
	Expr string `yaml:"expr"`
}

// MatchEnv is what a service's match expression sees.
type MatchEnv struct {
	AlertName   string            `expr:"alertname"`
	Labels      map[string]string `expr:"labels"`
	Annotations map[string]string `expr:"annotations"`
}

// Catalog is a compiled, immutable list of services.
type Catalog struct {
	services []*Service
	byName   map[string]*Service
	labels   triaged.Labelling
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// matchSpec is how match.expr is compiled: under the policy the rules and runbooks have, so it
// cannot read the clock and a label can never become a regular expression.
var matchSpec = exprpolicy.Spec{Env: MatchEnv{}, Kind: reflect.Bool, Yields: "true or false", Split: "use match.labels for exact values"}

// Compile checks the services and compiles their match expressions. Errors name the field
// relative to the list ("[1].match.expr: ..."), all of them in one pass, so the config loader can
// place each at its line and column.
func Compile(services []Service) (*Catalog, []*fielderr.Error) {
	c := &Catalog{byName: map[string]*Service{}, labels: triaged.DefaultLabelling()}
	var errs []*fielderr.Error
	for i := range services {
		s := &services[i]
		at := fmt.Sprintf("[%d]", i)
		switch {
		case s.Name == "":
			errs = append(errs, fielderr.Errorf(at+".name", "required"))
		case !validName.MatchString(s.Name):
			errs = append(errs, fielderr.Errorf(at+".name", "%q is not a valid service name (letters, digits, '_', '-', '.')", s.Name))
		case c.byName[s.Name] != nil:
			errs = append(errs, fielderr.Errorf(at+".name", "service %q is defined twice", s.Name))
		}
		if s.Match.Expr != "" {
			prog, err := exprpolicy.Compile(s.Match.Expr, matchSpec)
			if err != nil {
				errs = append(errs, fielderr.Errorf(at+".match.expr", "%s", oneLine(err)))
			}
			s.match = prog
		}
		for j, spec := range s.Probes {
			c, err := probe.Compile(spec)
			errs = append(errs, fielderr.Under(fmt.Sprintf("%s.probes[%d]", at, j), err)...)
			s.checks = append(s.checks, c)
		}
		for j, spec := range s.Logs {
			c, err := logtail.Compile(spec)
			errs = append(errs, fielderr.Under(fmt.Sprintf("%s.logs[%d]", at, j), err)...)
			s.sources = append(s.sources, c)
		}
		if s.Prometheus != nil {
			errs = append(errs, fielderr.Under(at+".prometheus", fielderr.Join(s.Prometheus.Validate()))...)
		}
		queries, qerrs := promquery.CompileQueries(s.Metrics, s.UserImpact)
		errs = append(errs, fielderr.Under(at, fielderr.Join(qerrs))...)
		s.queries = queries
		for j, d := range s.Dependencies {
			if d == s.Name {
				errs = append(errs, fielderr.Errorf(fmt.Sprintf("%s.dependencies[%d]", at, j), "a service cannot depend on itself"))
			}
		}
		c.services = append(c.services, s)
		if s.Name != "" && c.byName[s.Name] == nil {
			c.byName[s.Name] = s
		}
	}
	return c, errs
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "\n    ")
}

// WithLabelling returns the catalog deciding from l, not triaged.DefaultLabelling, what an
// alert's labels say of its service and environment.
func (c *Catalog) WithLabelling(l triaged.Labelling) *Catalog {
	out := &Catalog{labels: l}
	if c != nil {
		out.services, out.byName = c.services, c.byName
	}
	return out
}

// Labelling is how the catalog reads an alert's labels.
func (c *Catalog) Labelling() triaged.Labelling {
	if c == nil {
		return triaged.DefaultLabelling()
	}
	return c.labels
}

// Service returns the service called name, or nil.
func (c *Catalog) Service(name string) *Service {
	if c == nil {
		return nil
	}
	return c.byName[name]
}

// Len is the number of services.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.services)
}

// Resolve decides the service an alert is about, once for the whole of triage: the first catalog
// entry in config order whose match accepts the alert; else the service the alert's own labels
// name (marked as not in the catalog when a catalog is configured). A match expression that fails
// at run time does not match. A nil catalog is an empty one.
func (c *Catalog) Resolve(a *triaged.Alert) triaged.Service {
	svc, how := c.lookup(a)
	labels := c.Labelling()
	if svc == nil {
		s := labels.Service(a)
		if c.Len() > 0 {
			s.Catalogue = triaged.NotInCatalog
			if s.Known() {
				s.From += "; not in the service catalog"
			} else {
				s.From = "no service of the catalog matches, and " + s.From
			}
		}
		return s
	}
	s := triaged.Service{
		Name:            svc.Name,
		Environment:     svc.Environment,
		EnvironmentFrom: "the service catalog",
		From:            "the service catalog, " + how,
		Catalogue:       triaged.InCatalog,
		Stack:           svc.Stack,
		ArchitectureDoc: svc.ArchitectureDoc,
		Team:            svc.Team,
		OnCall:          svc.OnCall,
		Channel:         svc.Channel,
		Owners:          svc.Owners,
		Dependencies:    svc.Dependencies,
	}
	if s.Environment == "" {
		s.Environment, s.EnvironmentFrom, s.EnvironmentAssumed = labels.Env(a)
	}
	return s
}

// lookup finds the first entry in config order whose match accepts the alert, and says how it
// decided ("label service", "match of catalog service checkout").
func (c *Catalog) lookup(a *triaged.Alert) (*Service, string) {
	if c == nil {
		return nil, ""
	}
	env := MatchEnv{AlertName: a.Name(), Labels: a.Labels, Annotations: a.Annotations}
	label, name, _ := c.labels.ServiceName(a)
	for _, s := range c.services {
		if how, ok := s.matches(a, &env, label, name); ok {
			return s, how
		}
	}
	return nil, ""
}

// matches says whether the alert belongs to s, given the label that names the alert's service and
// its value ("" when none does).
func (s *Service) matches(a *triaged.Alert, env *MatchEnv, label, name string) (string, bool) {
	if len(s.Match.Labels) == 0 && s.match == nil {
		return "label " + label, name != "" && name == s.Name
	}
	for k, v := range s.Match.Labels {
		if a.Labels[k] != v {
			return "", false
		}
	}
	if s.match != nil {
		out, err := exprpolicy.Run(s.match, env)
		if ok, _ := out.(bool); err != nil || !ok {
			return "", false
		}
	}
	return "match of catalog service " + s.Name, true
}
