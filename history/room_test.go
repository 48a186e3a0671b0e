package history_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/internal/natstest"
)

// BenchmarkHistoryRoom measures the room the history takes: 10,000 alert records made of the
// alert corpus' 299 real alerts (labels, annotations, generator URLs) in groups of 5, each with
// its group context and service, and one opening record per group with a typical evidence,
// appended to a file-backed stream configured as triaged configures it. It reports the bytes
// the stream counts against nats.history_max_bytes and the bytes its files take on disk
// (S2-compressed blocks), per 1,000 alerts. Run it once:
//
//	go test -run '^$' -bench HistoryRoom -benchtime 1x ./history/
func BenchmarkHistoryRoom(b *testing.B) {
	const alerts, perGroup = 10000, 5
	corpus := loadCorpus(b)
	recs := make([]history.Record, 0, alerts+alerts/perGroup)
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for i := range alerts {
		a := corpus[i%len(corpus)]
		a.Labels = template.KV(cloneKV(a.Labels))
		a.Labels["instance"] = fmt.Sprintf("10.0.%d.%d:9100", i/250, i%250)
		g := triaged.Group{Receiver: "triaged", Status: "firing", Key: fmt.Sprintf(`{}/{severity=~"critical|warning"}:{alertname=%q, namespace=%q}`, a.Labels["alertname"], a.Labels["namespace"]),
			Labels: template.KV{"alertname": a.Labels["alertname"], "namespace": a.Labels["namespace"]}, CommonLabels: a.Labels,
			ExternalURL: "http://alertmanager.example.com:9093", Size: perGroup}
		alert := triaged.Alert{Alert: a, Group: g, ReceivedAt: at.Add(time.Duration(i) * time.Second)}
		svc := triaged.LabelledService(&alert)
		rec := history.Record{Kind: history.KindAlert, At: alert.ReceivedAt, Alert: alert, Service: svc, Group: "triaged\x00" + g.Key,
			Severity: triaged.P3, Rule: "warning-is-p3", RuleSetVersion: "3f9a1c2b7e0d"}
		recs = append(recs, rec)
		if i%perGroup == 0 {
			rec.Kind, rec.Incident, rec.Evidence = history.KindOpening, fmt.Sprintf("20261130-%s-%010x", a.Labels["alertname"], i), typicalEvidence(at)
			recs = append(recs, rec)
		}
	}
	size := map[string]int{}
	count := map[string]int{}
	for i := range recs {
		data, err := recs[i].Encode()
		if err != nil {
			b.Fatal(err)
		}
		size[recs[i].Kind] += len(data)
		count[recs[i].Kind]++
	}
	for range b.N {
		ctx := context.Background()
		ns := natstest.Server(b)
		_, js := natstest.Connect(b, ns)
		n := broker.MustNames("triaged")
		topo, err := broker.Ensure(ctx, js, n, broker.DefaultTopologyOptions())
		if err != nil {
			b.Fatal(err)
		}
		if err := history.Append(ctx, js, n, recs...); err != nil {
			b.Fatal(err)
		}
		info, err := topo.History.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		disk := dirSize(b, filepath.Join(ns.JetStreamConfig().StoreDir, "$G", "streams", n.HistoryStream()))
		perK := func(bytes uint64) float64 { return float64(bytes) / alerts * 1000 / (1 << 20) }
		b.ReportMetric(perK(info.State.Bytes), "MiB-counted/1000-alerts")
		b.ReportMetric(perK(disk), "MiB-on-disk/1000-alerts")
		b.ReportMetric(float64(info.State.Msgs), "records")
		b.ReportMetric(float64(size[history.KindAlert]/count[history.KindAlert]), "B/alert-record")
		b.ReportMetric(float64(size[history.KindOpening]/count[history.KindOpening]), "B/opening-record")
	}
}

func loadCorpus(tb testing.TB) []template.Alert {
	data, err := os.ReadFile("../testdata/alert-corpus/alerts.json")
	if err != nil {
		tb.Fatal(err)
	}
	var out []template.Alert
	if err := json.Unmarshal(data, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

func cloneKV(kv template.KV) map[string]string {
	out := make(map[string]string, len(kv)+1)
	for k, v := range kv {
		out[k] = v
	}
	return out
}

// typicalEvidence is what an opening keeps of a service with a catalog entry: two deploys, one
// probe, five error lines, three metrics.
func typicalEvidence(at time.Time) *triaged.Enrichment {
	v := 0.042
	m := func(name string) triaged.MetricEvidence {
		return triaged.MetricEvidence{Name: name, Query: `sum(rate(http_requests_total{service="checkout-api",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="checkout-api"}[5m]))`,
			Unit: "ratio", At: at, Now: &v, Before: &v, BeforeOffsetMinutes: 60, Trend: "rising", Series: 1}
	}
	return &triaged.Enrichment{
		Changes: []triaged.Change{
			{Service: "checkout-api", Environment: "production", Version: "v2.14.1", Commit: "9f1c2ab", Author: "jane", URL: "https://ci.example.com/deploys/8812", Time: at.Add(-12 * time.Minute), MinutesBefore: 12, Suspect: true},
			{Service: "checkout-api", Environment: "production", Version: "v2.14.0", Commit: "77aa0e1", Author: "joe", URL: "https://ci.example.com/deploys/8790", Time: at.Add(-26 * time.Hour), MinutesBefore: 1560},
		},
		ChangesSummary: "2 deploys of checkout-api in the last 2 h", ChangesWindow: 2 * time.Hour,
		Probes: []triaged.Probe{{Name: "health", Kind: "http", Target: "http://checkout-api.payments:8080/healthz", Status: "503", LatencyMS: 41, Error: "HTTP 503 Service Unavailable"}},
		Logs: []triaged.LogTail{{Source: "kubernetes payments/checkout-api", Lines: []string{
			`level=error ts=2026-11-30T08:59:01Z msg="upstream connect error" upstream=payments-db:5432 err="connection refused"`,
			`level=error ts=2026-11-30T08:59:03Z msg="request failed" path=/api/v1/checkout status=503 duration=5.001s`,
			`level=error ts=2026-11-30T08:59:07Z msg="upstream connect error" upstream=payments-db:5432 err="connection refused"`,
			`level=error ts=2026-11-30T08:59:12Z msg="request failed" path=/api/v1/cart status=503 duration=5.000s`,
			`level=error ts=2026-11-30T08:59:20Z msg="circuit breaker open" upstream=payments-db`,
		}}},
		Metrics: []triaged.MetricEvidence{m(triaged.AlertExpressionMetric), m("error_ratio"), m("latency_p99")},
		Runbook: &triaged.Runbook{Title: "Checkout API errors", URL: "https://runbooks.example.com/checkout-api"},
	}
}

func dirSize(tb testing.TB, dir string) uint64 {
	var total uint64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += uint64(info.Size())
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return total
}
