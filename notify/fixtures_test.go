package notify

import (
	"time"

	"github.com/triaged/triaged"
)

// The reports the tests render and deliver. Times are in UTC so that a JSON round trip gives
// back an identical value.

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// openedP1 is a first report with every section collected and filled.
func openedP1() *triaged.Report {
	return &triaged.Report{
		SchemaVersion:  triaged.ReportSchemaVersion,
		ID:             "3f9a1c2b7d4e5f60-20260314T092653Z-opened",
		IncidentID:     "3f9a1c2b7d4e5f60-20260314T092653Z",
		Event:          triaged.EventOpened,
		AlertsFiring:   3,
		Recurrence:     "fired 7 times in the last 24h (median duration 30s, last resolved 4 min ago), from the incidents bucket",
		OnCall:         "carol",
		EscalationPath: []string{"Incident Commander", "Engineering Manager", "CTO", "CEO (if customer-facing)"},
		Deadlines:      ptr(triaged.P1.Deadlines(t0)),
		Severity:       triaged.P1,
		SeverityName:   "CRITICAL",
		ResponseTime:   "< 15 min",
		Status:         triaged.ReportInvestigating,
		AlertName:      "CheckoutDown",
		Service:        "checkout",
		ServiceFrom:    "label service",
		Environment:    "production",
		Team:           "payments",
		Owners:         []string{"alice", "@bob"},
		Channel:        "#inc-checkout",
		Dependencies:   []string{"payments-gateway", "postgres"},
		Summary:        "Checkout returns 503 for every request",
		Description:    "All 3 checkout targets fail their scrape; the load balancer reports no healthy backend.",
		UserImpact:     "all users: nobody can pay",
		Stack:          "Go",
		ArchDoc:        "docs/architecture/checkout.md",
		Impact:         triaged.Impact{ProductionDown: true, FeatureDegraded: true},
		StartedAt:      t0,
		ReceivedAt:     t0.Add(30 * time.Second),
		TriagedAt:      t0.Add(32 * time.Second),
		Rule:           "tier1-down",
		RuleSetVersion: "2026-03-01.2",
		Decisions: []triaged.Decision{
			{Stage: "classify", Rule: "tier1-down", Severity: triaged.P2, Reason: `labels.tier == "1" && labels.alertname endsWith "Down"`},
			{Stage: "escalate", Rule: "probe-failing", Severity: triaged.P1, Reason: "health probe checkout-health failed"},
		},
		Alerts: []triaged.ReportAlert{
			checkoutAlert("3f9a1c2b7d4e5f60", "10.0.4.17:8080", triaged.P1, "probe-failing"),
			checkoutAlert("3f9a1c2b7d4e5f61", "10.0.4.18:8080", triaged.P2, "tier1-down"),
			checkoutAlert("3f9a1c2b7d4e5f62", "10.0.4.19:8080", triaged.P2, "tier1-down"),
		},
		GroupKey:                   `{}:{alertname="CheckoutDown"}`,
		RecentChangesSummary:       "3 deploys of checkout and its dependencies (payments-gateway) to production in the 2h before the alert: 2 suspect (within 30m)",
		RecentChangesWindowMinutes: 120,
		RecentChanges: []triaged.Change{
			{Service: "checkout", Environment: "production", Version: "v2.14.1", Commit: "77aa01f",
				Author: "dave", Time: t0.Add(-800 * time.Millisecond), MinutesBefore: 0, Suspect: true},
			{Service: "checkout", Environment: "production", Version: "v2.14.0", Commit: "9c1e2d4",
				Author: "alice", URL: "https://ci.example.com/checkout/builds/812",
				Time: t0.Add(-12 * time.Minute), MinutesBefore: 12, Suspect: true},
			{Service: "payments-gateway", Environment: "production", Version: "v1.3.1",
				Time: t0.Add(-95 * time.Minute), MinutesBefore: 95},
		},
		Probes: []triaged.Probe{
			{Name: "checkout-health", Kind: "http", Target: "https://checkout.internal/healthz", OK: false,
				Status: "503 Service Unavailable", LatencyMS: 41.7, Body: `{"status":"down","db":"timeout"}`},
			{Name: "checkout-db", Kind: "tcp", Target: "db.internal:5432", OK: true, LatencyMS: 2.2},
		},
		Logs: []triaged.LogTail{{
			Source: "kubernetes checkout/checkout-7d9f",
			Lines: []string{
				`2026-03-14T09:26:40Z ERROR pq: connection refused db=checkout password=[REDACTED]`,
				"2026-03-14T09:26:41Z ERROR readiness probe failed: `db` not reachable",
			},
			Truncated: true,
		}},
		Runbook: &triaged.Runbook{
			Title: "Checkout down",
			Path:  "runbooks/checkout-down.md",
			URL:   "https://wiki.example.com/runbooks/checkout-down",
			Steps: []string{"Check the database connection pool", "Roll back the last deploy if it is suspect"},
		},
		Observations: []string{
			"Alert CheckoutDown has been firing for 32s",
			"The last checkout deploy (v2.14.0) was 12 min before the alert",
		},
		Links: triaged.Links{
			Alertmanager: "http://alertmanager.example.com:9093/#/alerts?receiver=triaged",
			Generator:    "http://prometheus.example.com:9090/graph?g0.expr=up%7Bjob%3D%22checkout%22%7D+%3D%3D+0",
			Silence:      "http://alertmanager.example.com:9093/#/silences/new?filter=%7Balertname%3D%22CheckoutDown%22%7D",
		},
	}
}

// checkoutAlert is one member of openedP1's incident, classified at sev by rule.
func checkoutAlert(fingerprint, instance string, sev triaged.Severity, rule string) triaged.ReportAlert {
	return triaged.ReportAlert{
		Fingerprint: fingerprint,
		Status:      triaged.StatusFiring,
		Severity:    sev,
		Rule:        rule,
		Labels: map[string]string{
			"alertname": "CheckoutDown", "service": "checkout", "env": "production",
			"severity": "critical", "tier": "1", "job": "checkout", "instance": instance,
		},
		Annotations: map[string]string{
			"summary":     "Checkout returns 503 for every request",
			"runbook_url": "https://wiki.example.com/runbooks/checkout-down?team=payments&v=2",
		},
		StartsAt:     t0,
		GeneratorURL: "http://prometheus.example.com:9090/graph?g0.expr=up%7Bjob%3D%22checkout%22%7D+%3D%3D+0",
	}
}

// pendingP3 is a P3 whose deploy, probe, log and runbook sections have no source yet, and whose
// webhook Alertmanager truncated.
func pendingP3() *triaged.Report {
	return &triaged.Report{
		SchemaVersion:   triaged.ReportSchemaVersion,
		ID:              "77c0ffee00000001-20260314T092653Z-opened",
		IncidentID:      "77c0ffee00000001-20260314T092653Z",
		Event:           triaged.EventOpened,
		Severity:        triaged.P3,
		SeverityName:    "MEDIUM",
		ResponseTime:    "< 4 hours",
		Status:          triaged.ReportInvestigating,
		AlertName:       "SearchLatencyHigh",
		Service:         "search",
		ServiceFrom:     "label job",
		EnvironmentFrom: "no env or environment label",
		Summary:         "Search p99 latency above 2s",
		UserImpact:      "some users see slow search results",
		Impact:          triaged.Impact{FeatureDegraded: true},
		StartedAt:       t0,
		ReceivedAt:      t0.Add(time.Second),
		TriagedAt:       t0.Add(2 * time.Second),
		RuleSetVersion:  "2026-03-01.2",
		Decisions:       []triaged.Decision{},
		TruncatedAlerts: 7,
		Alerts: []triaged.ReportAlert{{
			Fingerprint: "77c0ffee00000001",
			Status:      triaged.StatusFiring,
			Labels:      map[string]string{"alertname": "SearchLatencyHigh", "job": "search"},
			Annotations: map[string]string{},
			StartsAt:    t0,
		}},
		Observations: []string{},
		Pending:      []string{"recent_changes", "probes", "logs", "runbook"},
	}
}

// resolvedP2 announces the end of an incident; its enrichment sections were collected and empty.
func resolvedP2() *triaged.Report {
	end := t0.Add(42*time.Minute + 10*time.Second)
	return &triaged.Report{
		SchemaVersion:      triaged.ReportSchemaVersion,
		ID:                 "a1b2c3d4e5f60718-20260314T092653Z-resolved",
		IncidentID:         "a1b2c3d4e5f60718-20260314T092653Z",
		Event:              triaged.EventResolved,
		Severity:           triaged.P2,
		SeverityName:       "HIGH",
		ResponseTime:       "< 1 hour",
		Status:             triaged.ReportResolved,
		AlertName:          "OrdersErrorRateHigh",
		Service:            "orders",
		ServiceFrom:        "label service",
		Environment:        "production",
		EnvironmentFrom:    "assumed from defaults.environment: no env or environment label",
		EnvironmentAssumed: true,
		Team:               "fulfilment",
		Summary:            "Orders API error rate above 5%",
		UserImpact:         "about 10% of orders fail",
		Impact:             triaged.Impact{FeatureDegraded: true},
		StartedAt:          t0,
		EndedAt:            &end,
		ReceivedAt:         end.Add(time.Second),
		TriagedAt:          end.Add(2 * time.Second),
		Rule:               "error-rate",
		RuleSetVersion:     "2026-03-01.2",
		Decisions: []triaged.Decision{
			{Stage: "classify", Rule: "error-rate", Severity: triaged.P2, Reason: "error ratio above 5%"},
		},
		Alerts: []triaged.ReportAlert{{
			Fingerprint: "a1b2c3d4e5f60718",
			Status:      triaged.StatusResolved,
			Labels:      map[string]string{"alertname": "OrdersErrorRateHigh", "service": "orders", "env": "production"},
			Annotations: map[string]string{"summary": "Orders API error rate above 5%"},
			StartsAt:    t0,
			EndsAt:      &end,
		}},
		RecentChanges:        []triaged.Change{},
		RecentChangesSummary: "no deploys of fulfilment or its dependencies (postgres) to production in the 2h before the alert",
		Probes:               []triaged.Probe{},
		Logs:                 []triaged.LogTail{},
		Observations:         []string{"Alert OrdersErrorRateHigh fired for 42m"},
		Links:                triaged.Links{Alertmanager: "http://alertmanager.example.com:9093"},
	}
}

// updatedP1 is a later report of openedP1's incident: two more alerts joined, one recovered,
// and an escalation rule raised its severity.
func updatedP1() *triaged.Report {
	rep := openedP1()
	rep.ID = "3f9a1c2b7d4e5f60-20260314T092653Z-updated-1"
	rep.Event = triaged.EventUpdated
	rep.TriagedAt = t0.Add(5 * time.Minute)
	rep.NextUpdateDue = ptr(rep.TriagedAt.Add(triaged.P1.UpdateEvery()))
	rep.Changes = []string{
		"2 more alerts joined (10.0.4.20:8080, 10.0.4.21:8080)",
		"1 of 5 recovered (10.0.4.17:8080), 4 still firing",
		"severity raised P2 → P1 by escalate rule probe-failing",
	}
	rep.AlertsFiring, rep.AlertsResolved = 4, 1
	rep.Alerts[0].Status, rep.Alerts[0].EndsAt = triaged.StatusResolved, ptr(t0.Add(4*time.Minute))
	rep.Alerts = append(rep.Alerts,
		checkoutAlert("3f9a1c2b7d4e5f63", "10.0.4.20:8080", triaged.P2, "tier1-down"),
		checkoutAlert("3f9a1c2b7d4e5f64", "10.0.4.21:8080", triaged.P2, "tier1-down"))
	rep.Alerts[3].StartsAt = t0.Add(3*time.Minute + 30*time.Second)
	rep.Alerts[4].StartsAt = t0.Add(3*time.Minute + 30*time.Second)
	return rep
}

// hostile is a report built from an alert whose labels and annotations try to break out of the
// layout, inject links, HTML and mentions, or hide text.
func hostile() *triaged.Report {
	return &triaged.Report{
		SchemaVersion:  triaged.ReportSchemaVersion,
		ID:             "deadbeefdeadbeef-20260314T092653Z-opened",
		IncidentID:     "deadbeefdeadbeef-20260314T092653Z",
		Event:          triaged.EventOpened,
		Severity:       triaged.P4,
		SeverityName:   "LOW",
		ResponseTime:   "< 24 hours",
		Status:         triaged.ReportInvestigating,
		AlertName:      "Evil`Alert`\n# PWNED",
		Service:        "<!channel> checkout",
		ServiceFrom:    "label service",
		Environment:    "prod\n\n## Fake section\n- [x] Production down",
		Summary:        "Click [here](http://evil.example/login) @channel @here <!here> <script>alert(1)</script>",
		Description:    "line one\n```\ncode fence\n```\n---\n> quoted | table | **bold** _it_ ~~strike~~ ![img](http://evil.example/x.png)",
		UserImpact:     "1. numbered",
		Impact:         triaged.Impact{Security: true},
		StartedAt:      t0,
		TriagedAt:      t0,
		RuleSetVersion: "1",
		Alerts: []triaged.ReportAlert{{
			Fingerprint: "deadbeefdeadbeef",
			Status:      triaged.StatusFiring,
			Labels: map[string]string{
				"alertname":      "Evil`Alert`\n# PWNED",
				"service":        "<!channel> checkout",
				"owner":          "@channel",
				"link":           "[x](http://evil)",
				"bidi":           "abc\u202edcba",
				"odd label.name": "```",
			},
			Annotations: map[string]string{
				"summary":       "Click [here](http://evil.example/login) @channel",
				"description":   "line one\n# heading\n<@U024BE7LH> &amp; &copy;",
				"[x](http://e)": "key injection",
			},
			StartsAt:     t0,
			GeneratorURL: "javascript:alert(document.cookie)",
		}},
		Observations: []string{"- [x] fake checkbox", "@everyone look", "`unclosed code"},
		Runbook: &triaged.Runbook{
			Title: "Runbook](http://evil.example)",
			URL:   "http://user:secret@wiki.example.com/a (b)/<c>",
			Steps: []string{"# not a heading", "2. not an item"},
		},
		Logs: []triaged.LogTail{{
			Source: "pod `x`",
			Lines:  []string{"```", "</code> ```` <!channel>", "\x1b[31mred\x1b[0m"},
		}},
		Pending: []string{"recent_changes", "probes"},
		Links:   triaged.Links{Alertmanager: "data:text/html,<script>alert(1)</script>"},
		Metrics: []triaged.MetricEvidence{
			{Name: triaged.AlertExpressionMetric, Expr: "up{job=\"`x`\"} == 0 <!channel>", Query: "up", Unit: "<b>req</b>",
				Now: ptr(1.0), Before: ptr(0.0), BeforeOffsetMinutes: 60, Sparkline: "▁`█", Series: 2,
				SeriesLabels: map[string]string{"job": "[x](http://evil)", "odd.name": "<!here>"}, HasGraph: true, Graph: "javascript:alert(1)"},
			{Name: "err`or [x](http://e)", Query: "sum(x{a=\"```\"})", Error: "Prometheus said [click](http://evil.example) @channel <@U024BE7LH>\n# heading"},
		},
		MeasuredImpact: &triaged.MeasuredImpact{Text: "1. numbered", Queries: []string{"q`1` <!channel>"}},
	}
}
