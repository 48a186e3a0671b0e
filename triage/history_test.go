package triage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/triage"
)

// byName classifies as a small rule set would: Noise is dropped, DBDown P2, the rest P3.
type byName struct{}

func (byName) Classify(a *triaged.Alert, _ triaged.Service, _ time.Time) triaged.Classification {
	switch a.Name() {
	case "Noise":
		return triaged.Classification{Rule: "drop-noise", Dropped: true, RuleSetVersion: "v7"}
	case "DBDown":
		return triaged.Classification{Severity: triaged.P2, Rule: "db", RuleSetVersion: "v7"}
	}
	return triaged.Classification{Severity: triaged.P3, Rule: "default", RuleSetVersion: "v7"}
}

// raiseOnErrorLines raises DBDown one level when its logs hold a line that reads as an error.
type raiseOnErrorLines struct{}

func (raiseOnErrorLines) Escalate(c triaged.Classification, a *triaged.Alert, _ triaged.Service, enr triaged.Enrichment, _ time.Time) triaged.Classification {
	for _, l := range enr.Logs {
		for _, line := range l.Lines {
			if a.Name() == "DBDown" && strings.Contains(line, "error") {
				c.Severity--
				return c
			}
		}
	}
	return c
}

// everything finds all there is to find: graphs, a probe body, logs with and without errors, a
// metric with its sparkline and series, observations and runbook steps.
type everything struct{}

func (everything) Enrich(context.Context, *triaged.Alert, triaged.Service, triaged.Classification) (triaged.Enrichment, func() (triaged.Enrichment, bool)) {
	now := 0.2
	return triaged.Enrichment{
		Changes: []triaged.Change{{Service: "db", Version: "v2", Suspect: true, MinutesBefore: 4}},
		Probes:  []triaged.Probe{{Name: "health", Kind: "http", Target: "http://db/health", Status: "500", Error: "HTTP 500", Body: "<html>stack trace</html>"}},
		Logs:    []triaged.LogTail{{Source: "db", Lines: []string{"GET /health 200", "level=error msg=\"connection refused\"", "checkpoint complete"}}},
		Metrics: []triaged.MetricEvidence{{Name: "error_ratio", Query: "sum(rate(errors[5m]))", Now: &now, Trend: "rising",
			Sparkline: "▁▂▅█", SeriesLabels: map[string]string{"pod": "db-0"}, HasGraph: true, Series: 2}},
		Graphs:       []triaged.Graph{{Name: "error_ratio", PNG: []byte("\x89PNG")}},
		Observations: []string{"the database restarted"},
		Runbook:      &triaged.Runbook{Title: "Database down", Steps: []string{"check the disk"}, Why: []string{"alertname"}},
	}, nil
}

// historyWorker runs a worker that writes its history with a history.Writer of its own, and
// returns the writer's metrics and the worker's.
func (e *env) historyWorker(t *testing.T, o triage.Options) (stop func(), wreg, reg *prometheus.Registry) {
	t.Helper()
	nc, _ := natstest.Connect(t, e.ns)
	wreg = prometheus.NewRegistry()
	w, err := history.NewWriter(nc, names, history.WriterOptions{Registerer: wreg})
	if err != nil {
		t.Fatal(err)
	}
	o.History = w
	stop, _, reg = e.startWorkerWith(t, o, 1)
	return stop, wreg, reg
}

// ensure puts back what was deleted of the topology, as the Healer does.
func (e *env) ensure(t *testing.T) {
	t.Helper()
	topo, err := broker.Ensure(context.Background(), e.js, names, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.topo = topo
}

// historyRecords waits until the history holds want records and returns them.
func (e *env) historyRecords(t *testing.T, want int) []history.Record {
	t.Helper()
	e.settled(t)
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("%d history records", want), func() bool {
		n, err := history.Pending(context.Background(), e.js, names, time.Time{})
		return err == nil && n >= uint64(want)
	})
	var recs []history.Record
	if _, err := history.Read(context.Background(), e.js, names, time.Time{}, 0, func(r history.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != want {
		t.Fatalf("the history holds %d records, want exactly %d: %v", len(recs), want, summaries(recs))
	}
	return recs
}

func summaries(recs []history.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s %s/%s group=%q severity=%s rule=%s dropped=%v version=%s incident=%v",
			r.Kind, r.Alert.Name(), r.Alert.Status, r.Group, r.Severity, r.Rule, r.Dropped, r.RuleSetVersion, r.Incident != ""))
	}
	slices.Sort(out)
	return out
}

// A known stream of alerts leaves exactly its records: every alert classified (dropped ones too,
// heartbeats not), at the time the rules saw, and each opening with the escalated severity and
// the evidence trimmed to what escalation reads.
func TestTheWorkerKeepsItsHistory(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)
	_, wreg, _ := e.historyWorker(t, triage.Options{Classifier: byName{}, Escalator: raiseOnErrorLines{}, Enricher: everything{},
		Heartbeat: triage.Heartbeat{Matchers: watchdogMatchers(t), Interval: time.Hour}, Now: func() time.Time { return t0 }})
	start := time.Now().Add(-time.Hour)
	db := triaged.Group{Receiver: "team", Key: `{}:{alertname="DBDown"}`, Status: "firing"}
	disk := triaged.Group{Receiver: "team", Key: `{}:{alertname="DiskFull"}`, Status: "firing"}
	e.publishBatch(t, &triaged.Batch{ReceivedAt: time.Now(), Group: db, Alerts: []template.Alert{
		{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "DBDown", "service": "db"}, Annotations: template.KV{"summary": "db down"}, StartsAt: start},
		{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "Noise", "service": "db"}, StartsAt: start},
	}})
	e.publishBatch(t, &triaged.Batch{ReceivedAt: time.Now(), Group: triaged.Group{Receiver: "team", Key: "{}:{}"}, Alerts: []template.Alert{
		{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "Watchdog"}, StartsAt: start},
	}})
	diskFull := template.Alert{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "DiskFull", "service": "files"}, StartsAt: start}
	e.publishBatch(t, &triaged.Batch{ReceivedAt: time.Now(), Group: disk, Alerts: []template.Alert{diskFull}})
	e.reports(t, 2)
	diskFull.Status, diskFull.EndsAt = triaged.StatusResolved, time.Now()
	disk.Status = "resolved"
	e.publishBatch(t, &triaged.Batch{ReceivedAt: time.Now(), Group: disk, Alerts: []template.Alert{diskFull}})

	recs := e.historyRecords(t, 6)
	want := []string{
		`alert DBDown/firing group="team\x00{}:{alertname=\"DBDown\"}" severity=P2 rule=db dropped=false version=v7 incident=false`,
		`alert DiskFull/firing group="team\x00{}:{alertname=\"DiskFull\"}" severity=P3 rule=default dropped=false version=v7 incident=false`,
		`alert DiskFull/resolved group="team\x00{}:{alertname=\"DiskFull\"}" severity=P3 rule=default dropped=false version=v7 incident=false`,
		`alert Noise/firing group="team\x00{}:{alertname=\"DBDown\"}" severity=Severity(0) rule=drop-noise dropped=true version=v7 incident=false`,
		`opening DBDown/firing group="team\x00{}:{alertname=\"DBDown\"}" severity=P1 rule=db dropped=false version=v7 incident=true`,
		`opening DiskFull/firing group="team\x00{}:{alertname=\"DiskFull\"}" severity=P3 rule=default dropped=false version=v7 incident=true`,
	}
	if got := summaries(recs); !slices.Equal(got, want) {
		t.Errorf("history records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range recs {
		if !r.At.Equal(t0) || r.Service.Name == "" || r.V != history.SchemaVersion {
			t.Errorf("%s record of %s: at %v, service %q, v%d; want the rules' time %v, the resolved service, v%d", r.Kind, r.Alert.Name(), r.At, r.Service.Name, r.V, t0, history.SchemaVersion)
		}
		if r.Kind == history.KindAlert && (r.Evidence != nil || r.Alert.Group.Key == "" || r.Alert.ReceivedAt.IsZero()) {
			t.Errorf("alert record of %s: evidence %v, group %+v; want none, and the group context as received", r.Alert.Name(), r.Evidence, r.Alert.Group)
		}
		if r.Kind != history.KindOpening || r.Alert.Name() != "DBDown" {
			continue
		}
		ev := r.Evidence
		switch {
		case ev == nil:
			t.Fatal("the DBDown opening has no evidence")
		case len(ev.Probes) != 1 || ev.Probes[0].Body != "" || ev.Probes[0].Error != "HTTP 500":
			t.Errorf("probes %+v: want the failed probe without its body", ev.Probes)
		case len(ev.Logs) != 1 || !slices.Equal(ev.Logs[0].Lines, []string{`level=error msg="connection refused"`}):
			t.Errorf("logs %+v: want the error line alone", ev.Logs)
		case len(ev.Metrics) != 1 || ev.Metrics[0].Sparkline != "" || ev.Metrics[0].SeriesLabels != nil || ev.Metrics[0].HasGraph || *ev.Metrics[0].Now != 0.2 || ev.Metrics[0].Trend != "rising":
			t.Errorf("metrics %+v: want the values and trend without sparkline, series labels, graph", ev.Metrics)
		case len(ev.Changes) != 1 || !ev.Changes[0].Suspect:
			t.Errorf("changes %+v: want the suspect deploy", ev.Changes)
		case ev.Observations != nil || ev.Runbook == nil || ev.Runbook.Steps != nil || ev.Graphs != nil:
			t.Errorf("observations %v, runbook %+v: want neither observations nor steps", ev.Observations, ev.Runbook)
		case r.EvidenceOmitted != "":
			t.Errorf("evidence omitted %q, want nothing", r.EvidenceOmitted)
		}
	}
	if got := metrictest.Value(t, wreg, "triaged_history_records_total", "kind", "alert"); got != 4 {
		t.Errorf("triaged_history_records_total{kind=alert} = %v, want 4", got)
	}
}

// A message handled three times (its report could not be published) writes its alert record
// each time under the same id: the history holds it once.
func TestARedeliveryDoesNotRepeatTheHistory(t *testing.T) {
	e := newEnv(t)
	if err := e.js.DeleteStream(context.Background(), names.ReportsStream()); err != nil {
		t.Fatal(err)
	}
	_, wreg, reg := e.historyWorker(t, triage.Options{Classifier: byName{}})
	e.publishAlerts(t, []triaged.Alert{syntheticAlert(1)})
	testkit.Eventually(t, 15*time.Second, "the message handled three times", func() bool {
		return metrictest.Value(t, reg, "triaged_messages_retried_total") >= 2
	})
	e.ensure(t)
	e.reports(t, 1)
	recs := e.historyRecords(t, 2)
	if got := summaries(recs); !strings.HasPrefix(got[0], "alert Synthetic") || !strings.HasPrefix(got[1], "opening Synthetic") {
		t.Errorf("records %v, want the alert and its opening", got)
	}
	testkit.Eventually(t, 10*time.Second, "every write acknowledged", func() bool {
		return metrictest.Value(t, wreg, "triaged_history_records_total", "kind", "alert") == 1
	})
}

// With the history stream gone, triage goes on and reports; the records it cannot store are
// counted. Once the stream is back (the Healer's repair is Ensure), records are kept again.
func TestAMissingHistoryStreamDoesNotStopTriage(t *testing.T) {
	e := newEnv(t)
	if err := e.js.DeleteStream(context.Background(), names.HistoryStream()); err != nil {
		t.Fatal(err)
	}
	_, wreg, _ := e.historyWorker(t, triage.Options{Classifier: byName{}})
	e.publishAlerts(t, []triaged.Alert{syntheticAlert(1)})
	e.reports(t, 1)
	testkit.Eventually(t, 10*time.Second, "the alert's and the opening's records counted as not stored", func() bool {
		return metrictest.Value(t, wreg, "triaged_history_write_failures_total", "reason", history.ReasonRejected) == 2
	})
	e.ensure(t)
	e.publishAlerts(t, []triaged.Alert{syntheticAlert(2)})
	e.reports(t, 2)
	recs := e.historyRecords(t, 2)
	if got := summaries(recs); !strings.HasPrefix(got[0], "alert Synthetic") || !strings.HasPrefix(got[1], "opening Synthetic") ||
		recs[0].Alert.Labels["instance"] != "host-002" {
		t.Errorf("records %v, want the second alert and its opening", got)
	}
}
