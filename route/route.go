// Package route decides which sinks get a report, and in which channel: an ordered list of
// routes, each matching reports with Alertmanager-style label matchers or an expr expression,
// where the first route that matches wins unless it says continue, as in Alertmanager.
package route

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/exprpolicy"
	"github.com/triaged/triaged/internal/fielderr"
)

// Route is one entry of the config's `routes:` list.
type Route struct {
	// Name names the route in `triagetool route` and in problems; optional.
	Name string `yaml:"name"`
	// Matchers are Alertmanager matchers (`severity="P1"`, `team=~"db|infra"`, or several in one
	// string: `{service="checkout", event!="resolved"}`) over the report's label set (Labels);
	// all must match.
	Matchers []string `yaml:"matchers"`
	// Expr is a boolean expr expression over Env; with matchers, both must hold. A route with
	// neither matches every report.
	Expr string `yaml:"expr"`
	// Sinks get the reports the route matches: names from the config's sinks.
	Sinks []string `yaml:"sinks"`
	// Channel sends the reports to this channel in the chat sinks of the route, over the
	// service's channel from the catalog and the sink's own default.
	Channel string `yaml:"channel"`
	// Continue goes on to the routes below once this one matched; by default the first route
	// that matches is the last one tried.
	Continue bool `yaml:"continue"`
}

// Sink is what routing knows of a configured sink.
type Sink struct {
	Name string
	// Channels says the sink posts into a channel that routing picks (a chat sink); the others
	// ignore the channel.
	Channels bool
	// Channel is the sink's own default channel ("" when it has none).
	Channel string
}

// Target is one sink a report goes to, and where.
type Target struct {
	Sink string `json:"sink"`
	// Channel is the channel the sink is to post the report in: "" for a sink without channels,
	// or a chat sink with no channel anywhere (it then posts where its service puts it, e.g. an
	// incoming webhook's own channel).
	Channel string `json:"channel,omitempty"`
	// ChannelFrom says which setting chose Channel: "route", "catalog" (the service's channel)
	// or "sink" (the sink's default).
	ChannelFrom string `json:"channel_from,omitempty"`
	// Route is the index of the route that sent the report to the sink in the config's routes,
	// -1 when the config has no routes (every sink gets every report); RouteName its name, or
	// "routes[N]".
	Route     int    `json:"route"`
	RouteName string `json:"route_name"`
}

// Router is a compiled, immutable list of routes, safe for concurrent use.
type Router struct {
	routes []compiled
	sinks  []Sink
	lints  []*fielderr.Error
}

type compiled struct {
	Route
	index    int
	matchers labels.Matchers
	program  *vm.Program
}

// exprSpec is how a route's expr is compiled: under the policy of the rules, runbooks and
// catalog, over Env.
var exprSpec = exprpolicy.Spec{Env: Env{}, Kind: reflect.Bool, Yields: "true or false", Split: "split it into several routes", In: "routes"}

// Compile checks the routes against the configured sinks and compiles their matchers and
// expressions. Errors name the field relative to the list ("[1].matchers[0]: ..."), all of them
// in one pass, so the config loader can place each at its line and column. No routes means that
// every sink gets every report.
func Compile(routes []Route, sinks []Sink) (*Router, []*fielderr.Error) {
	r := &Router{sinks: sinks}
	var errs []*fielderr.Error
	names := map[string]int{}
	for i, rt := range routes {
		at := fmt.Sprintf("[%d]", i)
		c := compiled{Route: rt, index: i}
		if rt.Name != "" {
			if j, dup := names[rt.Name]; dup {
				errs = append(errs, fielderr.Errorf(at+".name", "%q is already the name of routes[%d]", rt.Name, j))
			}
			names[rt.Name] = i
		}
		for j, s := range rt.Matchers {
			ms, err := parseMatchers(s)
			if err != nil {
				errs = append(errs, fielderr.Errorf(fmt.Sprintf("%s.matchers[%d]", at, j), "%v", err))
			}
			c.matchers = append(c.matchers, ms...)
		}
		if rt.Expr != "" {
			prog, err := exprpolicy.Compile(rt.Expr, exprSpec)
			if err != nil {
				errs = append(errs, fielderr.Errorf(at+".expr", "%s", oneLine(err)))
			}
			c.program = prog
		}
		errs = append(errs, checkSinks(at, rt, sinks)...)
		if strings.TrimSpace(rt.Channel) != rt.Channel || strings.ContainsFunc(rt.Channel, isControl) {
			errs = append(errs, fielderr.Errorf(at+".channel", "%q: a channel has no surrounding spaces or control characters", rt.Channel))
		}
		r.routes = append(r.routes, c)
	}
	if len(errs) > 0 {
		return r, errs
	}
	r.lints = lint(r)
	return r, nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// parseMatchers parses one entry of matchers, which may hold several; it refuses a matcher on
// severity or event that no report can satisfy, because those two are the report's values
// (P1..P4; opened, updated, resolved, reopened), not the alert labels of the same name.
func parseMatchers(s string) (labels.Matchers, error) {
	if strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "{}")) == "" {
		return nil, fmt.Errorf("empty matcher")
	}
	ms, err := labels.ParseMatchers(s)
	if err != nil && !strings.Contains(err.Error(), strings.TrimSpace(s)) {
		return nil, fmt.Errorf("%s: %w", s, err) // the parser does not always say what it refused
	} else if err != nil {
		return nil, err
	}
	for _, m := range ms {
		known, ok := reportValues[m.Name]
		if !ok || m.Type == labels.MatchNotEqual || m.Type == labels.MatchNotRegexp {
			continue
		}
		if !slices.ContainsFunc(known, m.Matches) {
			return nil, fmt.Errorf("%s matches no %s a report has (%s): %s is the report's, not the alert label of that name",
				m, m.Name, strings.Join(known, ", "), m.Name)
		}
	}
	return ms, nil
}

// reportValues are the values the report's own labels can take.
var reportValues = map[string][]string{
	LabelSeverity: {"P1", "P2", "P3", "P4"},
	LabelEvent:    {string(triaged.EventOpened), string(triaged.EventUpdated), string(triaged.EventResolved), string(triaged.EventReopened)},
}

func checkSinks(at string, rt Route, sinks []Sink) []*fielderr.Error {
	if len(rt.Sinks) == 0 {
		return []*fielderr.Error{fielderr.Errorf(at+".sinks", "a route must name at least one sink")}
	}
	var errs []*fielderr.Error
	for j, name := range rt.Sinks {
		field := fmt.Sprintf("%s.sinks[%d]", at, j)
		switch {
		case !slices.ContainsFunc(sinks, func(s Sink) bool { return s.Name == name }):
			errs = append(errs, fielderr.Errorf(field, "unknown sink %q (sinks: %s)", name, strings.Join(sinkNames(sinks), ", ")))
		case slices.Index(rt.Sinks, name) < j:
			errs = append(errs, fielderr.Errorf(field, "sink %q is named twice", name))
		}
	}
	return errs
}

func sinkNames(sinks []Sink) []string {
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.Name
	}
	return names
}

// lint finds what is valid but almost certainly not meant: a sink no route names (it gets
// nothing), a channel on a route none of whose sinks posts into channels, a route below a
// catch-all that does not continue (never reached).
func lint(r *Router) []*fielderr.Error {
	if len(r.routes) == 0 {
		return nil
	}
	var out []*fielderr.Error
	for i, s := range r.sinks {
		if !slices.ContainsFunc(r.routes, func(c compiled) bool { return slices.Contains(c.Sinks, s.Name) }) {
			out = append(out, fielderr.Errorf(fmt.Sprintf("sinks[%d].name", i), "sink %q is in no route: it gets no report", s.Name))
		}
	}
	unreached := false
	for _, c := range r.routes {
		if c.Channel != "" && !slices.ContainsFunc(r.sinks, func(s Sink) bool { return s.Channels && slices.Contains(c.Sinks, s.Name) }) {
			out = append(out, fielderr.Errorf(fmt.Sprintf("routes[%d].channel", c.index), "none of the route's sinks posts into channels"))
		}
		if !unreached && c.catchAll() && !c.Continue && c.index+1 < len(r.routes) {
			unreached = true
			out = append(out, fielderr.Errorf(fmt.Sprintf("routes[%d]", c.index+1),
				"never reached: %s above matches every report and does not continue", c.name()))
		}
	}
	return out
}

// Warnings are what the routes do that is valid but almost certainly not meant, each with its
// field relative to the config: "routes[1].channel", or "sinks[2].name" for the sink at that
// index of the sinks given to Compile.
func (r *Router) Warnings() []*fielderr.Error { return r.lints }

func (c *compiled) catchAll() bool { return len(c.Matchers) == 0 && c.Expr == "" }

func (c *compiled) name() string {
	return cmp.Or(c.Name, fmt.Sprintf("routes[%d]", c.index))
}

// matches reports whether the route takes the report. An expression that fails at run time does
// not match.
func (c *compiled) matches(in *input) bool {
	if !c.matchers.Matches(in.labels()) {
		return false
	}
	if c.program == nil {
		return true
	}
	out, err := exprpolicy.Run(c.program, in.env())
	ok, _ := out.(bool)
	return err == nil && ok
}

// Routes lists the sinks rep goes to, in the order of the routes that send it there, then of
// each route's sinks; a sink two matching routes name goes with the first of them. Without
// routes, every sink, in config order; an empty list when no route matches.
func (r *Router) Routes(rep *triaged.Report) []Target {
	if len(r.routes) == 0 {
		out := make([]Target, len(r.sinks))
		for i, s := range r.sinks {
			out[i] = r.target(s, "", rep, -1, "")
		}
		return out
	}
	in := &input{rep: rep}
	var out []Target
	for i := range r.routes {
		c := &r.routes[i]
		if !c.matches(in) {
			continue
		}
		for _, name := range c.Sinks {
			if slices.ContainsFunc(out, func(t Target) bool { return t.Sink == name }) {
				continue
			}
			if j := slices.IndexFunc(r.sinks, func(s Sink) bool { return s.Name == name }); j >= 0 {
				out = append(out, r.target(r.sinks[j], c.Channel, rep, c.index, c.name()))
			}
		}
		if !c.Continue {
			break
		}
	}
	return out
}

// target is where s gets rep: the route's channel, else the service's channel from the catalog
// (the report carries it), else the sink's default.
func (r *Router) target(s Sink, routeChannel string, rep *triaged.Report, index int, name string) Target {
	t := Target{Sink: s.Name, Route: index, RouteName: name}
	if !s.Channels {
		return t
	}
	switch {
	case routeChannel != "":
		t.Channel, t.ChannelFrom = routeChannel, "route"
	case rep.Channel != "":
		t.Channel, t.ChannelFrom = rep.Channel, "catalog"
	case s.Channel != "":
		t.Channel, t.ChannelFrom = s.Channel, "sink"
	}
	return t
}

// For says whether sink gets rep, and in which channel: what the outbox asks once per report
// and sink. A nil Router delivers everything, with no channel chosen.
func (r *Router) For(sink string, rep *triaged.Report) (channel string, deliver bool) {
	if r == nil {
		return "", true
	}
	for _, t := range r.Routes(rep) {
		if t.Sink == sink {
			return t.Channel, true
		}
	}
	return "", false
}

// Func is For bound to one sink, in the shape the outbox takes.
func (r *Router) Func(sink string) func(*triaged.Report) (string, bool) {
	return func(rep *triaged.Report) (string, bool) { return r.For(sink, rep) }
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "\n    ")
}
