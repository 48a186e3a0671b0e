package promquery_test

import (
	"strings"
	"testing"

	"github.com/triaged/triaged/promquery"
)

func TestFillInsertsValuesAsLiteralsOnly(t *testing.T) {
	hostile := `"} or vector(1) or {x="`
	cases := []struct {
		name, query string
		values      promquery.Values
		want        string
	}{
		{
			name:   "matcher values",
			query:  `sum(rate(http_requests_total{service=$service, env=$environment}[5m]))`,
			values: promquery.Values{Service: "checkout", Environment: "prod"},
			want:   `sum(rate(http_requests_total{env="prod",service="checkout"}[5m]))`,
		},
		{
			name:   "a hostile label value stays one value",
			query:  `up{job=$labels.job}`,
			values: promquery.Values{Labels: map[string]string{"job": hostile}},
			want:   `up{job="\"} or vector(1) or {x=\""}`,
		},
		{
			name:   "a regular expression matcher matches the value itself",
			query:  `up{instance=~$labels.instance}`,
			values: promquery.Values{Labels: map[string]string{"instance": "api-1.example:9090|.*"}},
			want:   `up{instance=~"api-1\\.example:9090\\|\\.\\*"}`,
		},
		{
			name:   "a function's string argument",
			query:  `label_replace(up, "svc", $service, "", "")`,
			values: promquery.Values{Service: `a"b`},
			want:   `label_replace(up, "svc", "a\"b", "", "")`,
		},
		{
			name:   "a dollar inside a literal or comment is left alone",
			query:  "up{path=\"/$service\"} # $nothing\n",
			values: promquery.Values{},
			want:   "up{path=\"/$service\"} # $nothing\n",
		},
		{
			name:   "alertname",
			query:  `ALERTS{alertname=$alertname}`,
			values: promquery.Values{AlertName: "HighErrorRate"},
			want:   `ALERTS{alertname="HighErrorRate"}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := promquery.Compile("q", c.query, "")
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := tmpl.Fill(c.values)
			if err != nil {
				t.Fatalf("Fill: %v", err)
			}
			if got != c.want {
				t.Errorf("Fill =\n  %s\nwant\n  %s", got, c.want)
			}
		})
	}
}

func TestFillRefusesAMissingValue(t *testing.T) {
	tmpl, err := promquery.Compile("q", `up{job=$labels.job}`, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Fill(promquery.Values{Labels: map[string]string{"instance": "x"}})
	if err == nil || !strings.Contains(err.Error(), "no value for $labels.job") {
		t.Fatalf("Fill = %v, want an error naming $labels.job", err)
	}
}

func TestCompileErrorsSayWhere(t *testing.T) {
	cases := []struct{ query, want string }{
		{"", "required"},
		{`up{job=$labels.job} +`, "1:22: "},
		{`up{job=$labels.job}[5m] / up{instance=$labels.instance} )`, "1:58: "},
		{"sum(\n  rate(x[5m]) by (job)", "2:"},
		{`up{job=$nope}`, `1:8: unknown placeholder "$nope"`},
		{`$service`, "the query gives a string: want an instant vector or a scalar"},
		{`rate(up[5m])[10m:1m]`, "the query gives a matrix"},
		{`up{$service="x"}`, "$service is not where a string value goes"},
		{strings.Repeat("x", promquery.MaxQueryBytes+1), "at most"},
	}
	for _, c := range cases {
		_, err := promquery.Compile("q", c.query, "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%.40q) = %v, want an error containing %q", c.query, err, c.want)
		}
	}
}

func TestCompileQueriesChecksNamesAndImpact(t *testing.T) {
	specs := []promquery.QuerySpec{
		{Name: "error_ratio", Query: "sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))", Unit: "ratio"},
		{Name: "request_rate", Query: "sum(rate(requests_total[5m]))", Unit: "req/s"},
		{Name: "error_ratio", Query: "up"},
		{Name: "alert", Query: "up"},
		{Name: "Bad-Name", Query: "up"},
		{Name: "broken", Query: "up{"},
	}
	_, errs := promquery.CompileQueries(specs, &promquery.UserImpactSpec{FailingRatio: "request_rate", RequestRate: "missing"})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`metrics[2].name: query "error_ratio" is defined twice`,
		`metrics[3].name: "alert" is reserved`,
		`metrics[4].name: "Bad-Name" is not a valid query name`,
		`metrics[5].query: 1:4:`,
		`user_impact.failing_ratio: query "request_rate" has unit "req/s"`,
		`user_impact.request_rate: no query named "missing"`,
	}
	if len(got) != len(want) {
		t.Fatalf("errors:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
}
