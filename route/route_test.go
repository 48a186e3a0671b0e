package route_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/route"
)

// report is an opened P2 report of checkout, team shop, whose catalog entry names #inc-checkout,
// led by an alert with labels of its own (among them a severity label that is not the report's).
func report(mod ...func(*triaged.Report)) *triaged.Report {
	rep := &triaged.Report{
		Event: triaged.EventOpened, Severity: triaged.P2, Service: "checkout", Environment: "production",
		Team: "shop", Channel: "#inc-checkout", AlertName: "HighErrorRate", AlertsFiring: 2,
		Alerts: []triaged.ReportAlert{
			{Labels: map[string]string{"alertname": "HighErrorRate", "severity": "critical", "cluster": "eu-1", "namespace": "shop"},
				Annotations: map[string]string{"summary": "5xx above 5%"}},
			{Labels: map[string]string{"alertname": "HighErrorRate", "cluster": "us-1", "namespace": "shop"}},
		},
	}
	for _, m := range mod {
		m(rep)
	}
	return rep
}

var sinks = []route.Sink{
	{Name: "stdout"},
	{Name: "archive"},
	{Name: "slack", Channels: true, Channel: "#incidents"},
	{Name: "slack-noc", Channels: true},
}

// targets renders what Routes returns as "sink@channel(from)<route", in order.
func targets(ts []route.Target) string {
	var out []string
	for _, t := range ts {
		s := t.Sink
		if t.Channel != "" {
			s += "@" + t.Channel + "(" + t.ChannelFrom + ")"
		}
		out = append(out, fmt.Sprintf("%s<%s", s, t.RouteName))
	}
	return strings.Join(out, " ")
}

func TestRoutes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		routes []route.Route
		rep    *triaged.Report
		want   string
	}{
		{"no routes: every sink, the catalog's channel in chat sinks", nil, report(),
			"stdout< archive< slack@#inc-checkout(catalog)< slack-noc@#inc-checkout(catalog)<"},
		{"no routes, no catalog channel: the sink's default", nil, report(func(r *triaged.Report) { r.Channel = "" }),
			"stdout< archive< slack@#incidents(sink)< slack-noc<"},
		{"severity is the report's, not the alert's label", []route.Route{
			{Name: "critical", Matchers: []string{`severity=~"P1"`}, Sinks: []string{"slack-noc"}},
			{Name: "rest", Sinks: []string{"archive"}},
		}, report(), "archive<rest"},
		{"severity matches P1", []route.Route{
			{Name: "critical", Matchers: []string{`severity="P1"`}, Sinks: []string{"slack-noc"}},
			{Name: "rest", Sinks: []string{"archive"}},
		}, report(func(r *triaged.Report) { r.Severity = triaged.P1 }), "slack-noc@#inc-checkout(catalog)<critical"},
		{"first match wins", []route.Route{
			{Name: "shop", Matchers: []string{`team="shop"`}, Sinks: []string{"slack"}},
			{Name: "all", Sinks: []string{"archive"}},
		}, report(), "slack@#inc-checkout(catalog)<shop"},
		{"continue goes on", []route.Route{
			{Name: "shop", Matchers: []string{`team="shop"`}, Sinks: []string{"slack"}, Continue: true},
			{Name: "other", Matchers: []string{`team="db"`}, Sinks: []string{"stdout"}},
			{Name: "all", Sinks: []string{"archive", "slack"}},
		}, report(), "slack@#inc-checkout(catalog)<shop archive<all"},
		{"a sink named twice keeps the first route's channel", []route.Route{
			{Name: "noc", Sinks: []string{"slack"}, Channel: "#noc", Continue: true},
			{Name: "team", Sinks: []string{"slack"}, Channel: "#team"},
		}, report(), "slack@#noc(route)<noc"},
		{"event: resolutions elsewhere", []route.Route{
			{Name: "resolved", Matchers: []string{`event="resolved"`}, Sinks: []string{"archive"}},
			{Name: "live", Sinks: []string{"slack"}},
		}, report(func(r *triaged.Report) { r.Event = triaged.EventResolved }), "archive<resolved"},
		{"event: reopened is not opened", []route.Route{
			{Name: "opened", Matchers: []string{`event="opened"`}, Sinks: []string{"archive"}},
		}, report(func(r *triaged.Report) { r.Event = triaged.EventReopened }), ""},
		{"service and environment, several matchers in one string", []route.Route{
			{Name: "staging", Matchers: []string{`{service="checkout", environment="staging"}`}, Sinks: []string{"stdout"}},
			{Name: "prod", Matchers: []string{`service="checkout"`, `environment="production"`}, Sinks: []string{"slack"}, Channel: "#checkout-prod"},
		}, report(), "slack@#checkout-prod(route)<prod"},
		{"the lead alert's labels, regex anchored", []route.Route{
			{Name: "us", Matchers: []string{`cluster=~"us-.*"`}, Sinks: []string{"stdout"}},
			{Name: "eu", Matchers: []string{`cluster=~"eu"`}, Sinks: []string{"stdout"}},
			{Name: "eu-any", Matchers: []string{`cluster=~"eu-.*"`, `namespace!="kube-system"`}, Sinks: []string{"archive"}},
		}, report(), "archive<eu-any"},
		{"a missing label is the empty value", []route.Route{
			{Name: "unowned", Matchers: []string{`team=""`}, Sinks: []string{"stdout"}},
			{Name: "owned", Sinks: []string{"archive"}},
		}, report(func(r *triaged.Report) { r.Team = "" }), "stdout<unowned"},
		{"no match: no sink", []route.Route{
			{Name: "db", Matchers: []string{`team="db"`}, Sinks: []string{"slack"}},
		}, report(), ""},
		{"expr over the vocabulary", []route.Route{
			{Name: "x", Expr: `severity in ["P1", "P2"] && labels.severity == "critical" && alerts_firing > 1 && annotations.summary contains "5xx"`, Sinks: []string{"slack-noc"}},
		}, report(), "slack-noc@#inc-checkout(catalog)<x"},
		{"expr and matchers both hold", []route.Route{
			{Name: "both", Matchers: []string{`team="shop"`}, Expr: `flapping`, Sinks: []string{"stdout"}},
			{Name: "else", Expr: `channel == "#inc-checkout" && alertname == "HighErrorRate"`, Sinks: []string{"archive"}},
		}, report(), "archive<else"},
		{"an expr that fails at run time does not match", []route.Route{
			{Name: "bad", Expr: `int(labels.cluster) > 0`, Sinks: []string{"stdout"}},
			{Name: "rest", Sinks: []string{"archive"}},
		}, report(), "archive<rest"},
		{"a report without alerts routes on its own fields", []route.Route{
			{Name: "x", Matchers: []string{`cluster=""`, `service="checkout"`}, Expr: `len(labels) == 0`, Sinks: []string{"stdout"}},
		}, report(func(r *triaged.Report) { r.Alerts = nil }), "stdout<x"},
		{"unnamed routes are named by index", []route.Route{
			{Matchers: []string{`team="db"`}, Sinks: []string{"stdout"}},
			{Sinks: []string{"archive"}},
		}, report(), "archive<routes[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, errs := route.Compile(tc.routes, sinks)
			if len(errs) > 0 {
				t.Fatalf("compile: %v", errs)
			}
			if got := targets(r.Routes(tc.rep)); got != tc.want {
				t.Errorf("routes to\n  %s\nwant\n  %s", got, tc.want)
			}
			// For agrees with Routes, sink by sink.
			for _, s := range sinks {
				ch, ok := r.For(s.Name, tc.rep)
				i := slices.IndexFunc(r.Routes(tc.rep), func(t route.Target) bool { return t.Sink == s.Name })
				if ok != (i >= 0) || ok && ch != r.Routes(tc.rep)[i].Channel {
					t.Errorf("For(%s) = %q, %t; Routes says %s", s.Name, ch, ok, tc.want)
				}
			}
		})
	}
}

func TestNilRouterDeliversEverything(t *testing.T) {
	var r *route.Router
	if ch, ok := r.For("x", report()); !ok || ch != "" {
		t.Errorf("nil router: %q, %t", ch, ok)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		routes []route.Route
		want   []string
	}{
		{"unknown and repeated sinks", []route.Route{{Sinks: []string{"slack", "pager", "slack"}}},
			[]string{`[0].sinks[1]: unknown sink "pager" (sinks: stdout, archive, slack, slack-noc)`, `[0].sinks[2]: sink "slack" is named twice`}},
		{"no sinks", []route.Route{{Matchers: []string{`team="x"`}}}, []string{`[0].sinks: a route must name at least one sink`}},
		{"bad matchers", []route.Route{{Matchers: []string{`team="x"`, `team=="x"`, ` {} `, `9x="y"`}, Sinks: []string{"stdout"}}},
			[]string{`[0].matchers[1]: team=="x": matcher value contains unescaped double quote: ="x"`, `[0].matchers[2]: empty matcher`, `[0].matchers[3]: bad matcher format: 9x="y"`}},
		{"bad regex", []route.Route{{Matchers: []string{`team=~"(x"`}, Sinks: []string{"stdout"}}},
			[]string{"[0].matchers[0]: team=~\"(x\": error parsing regexp: missing closing ): `^(?:(x)$`"}},
		{"severity and event values no report has", []route.Route{{Matchers: []string{`severity="critical"`, `event=~"firing|open"`}, Sinks: []string{"stdout"}}},
			[]string{
				`[0].matchers[0]: severity="critical" matches no severity a report has (P1, P2, P3, P4): severity is the report's, not the alert label of that name`,
				`[0].matchers[1]: event=~"firing|open" matches no event a report has (opened, updated, resolved, reopened)`,
			}},
		{"bad expr: typo, clock, not a bool", []route.Route{
			{Expr: `lables.team == "x"`, Sinks: []string{"stdout"}},
			{Expr: `now().Hour() > 9`, Sinks: []string{"stdout"}},
			{Expr: `severity`, Sinks: []string{"stdout"}},
		}, []string{
			"[0].expr: unknown name lables (1:1)\n     | lables.team == \"x\"\n     | ^",
			"[1].expr: unknown name now (1:1)",
			"[2].expr: must yield true or false: expected bool, but got string",
		}},
		{"duplicate names, bad channel", []route.Route{
			{Name: "a", Sinks: []string{"slack"}, Continue: true},
			{Name: "a", Sinks: []string{"slack"}, Channel: " #x"},
		}, []string{`[1].name: "a" is already the name of routes[0]`, `[1].channel: " #x": a channel has no surrounding spaces or control characters`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := route.Compile(tc.routes, sinks)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			all := strings.Join(got, "\n")
			if len(got) != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%s", len(got), len(tc.want), all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("errors lack %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	r, errs := route.Compile([]route.Route{
		{Name: "all", Sinks: []string{"slack", "stdout"}},
		{Name: "late", Matchers: []string{`team="db"`}, Sinks: []string{"archive"}, Channel: "#db"},
	}, sinks)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, w := range r.Warnings() {
		got = append(got, w.Error())
	}
	want := []string{
		`sinks[3].name: sink "slack-noc" is in no route: it gets no report`,
		`routes[1]: never reached: all above matches every report and does not continue`,
		`routes[1].channel: none of the route's sinks posts into channels`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r, _ := route.Compile(nil, sinks); len(r.Warnings()) > 0 {
		t.Errorf("no routes, yet warnings: %v", r.Warnings())
	}
}

func TestLabels(t *testing.T) {
	got := route.Labels(report(func(r *triaged.Report) { r.Environment = "" }))
	for k, v := range map[string]string{
		"severity": "P2", "event": "opened", "service": "checkout", "environment": "", "team": "shop",
		"cluster": "eu-1", "alertname": "HighErrorRate",
	} {
		if string(got[model.LabelName(k)]) != v {
			t.Errorf("%s=%q, want %q", k, got[model.LabelName(k)], v)
		}
	}
}
