package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/backtest"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/rules"
)

const (
	btBaseline  = "testdata/backtest/baseline.rules.yml"
	btCandidate = "testdata/backtest/candidate.rules.yml"
)

// backtestHistory is the known mix the backtest tests replay: the alerts of the captured
// Alertmanager payloads (AlwaysFiring, 10 DiskSpaceLow on databases, 9 TargetDown in staging, a
// FlappingHalfMinute of severity info), 24 generated HighLatency alerts (checkout and search, prod
// and staging, two in three critical) and one opening of the TargetDown incident with a deploy in
// its evidence, each decided by the rules of version.
func backtestHistory(t testing.TB, version string) []history.Record {
	t.Helper()
	base, err := rules.LoadFiles(btBaseline)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 15, 10, 0, 0, time.UTC)
	var recs []history.Record
	add := func(a triaged.Alert) {
		svc := triaged.LabelledService(&a)
		c := base.Classify(&a, svc, at)
		recs = append(recs, history.Record{
			Kind: history.KindAlert, At: at, Alert: a, Service: svc, Group: a.Group.Key,
			Severity: c.Severity, Rule: c.Rule, Dropped: c.Dropped, RuleSetVersion: version,
		})
		at = at.Add(7 * time.Minute)
	}
	for _, name := range []string{"firing-1-alert", "firing-10-alerts", "firing-3-alerts", "firing-mixed-1-resolved-2-firing", "resolved-3-alerts", "resolved-1-alert"} {
		data, err := os.ReadFile(filepath.Join("../../testdata/alertmanager", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := triaged.DecodeWebhook(data, at)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, a := range b.Split() {
			add(a)
		}
	}
	var targetDown history.Record
	for _, r := range recs {
		if r.Alert.Fingerprint == "98856ee18a2874fd" {
			targetDown = r
		}
	}
	at = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for i := range 24 {
		svc, env := []string{"checkout", "search"}[i%2], []string{"prod", "staging"}[(i/2)%2]
		sev := "critical"
		if i%3 == 0 {
			sev = "warning"
		}
		a := triaged.Alert{Alert: template.Alert{
			Status:      triaged.StatusFiring,
			Labels:      template.KV{"alertname": "HighLatency", "service": svc, "env": env, "severity": sev, "instance": fmt.Sprintf("%s-%d:8080", svc, i%3)},
			Annotations: template.KV{"summary": "p99 latency above 2s"},
			StartsAt:    at.Add(-5 * time.Minute), Fingerprint: fmt.Sprintf("%016x", 0xa100+i),
		}}
		a.Group = triaged.Group{Receiver: "triaged", Status: "firing", Key: fmt.Sprintf(`{}:{alertname="HighLatency", env=%q, service=%q}`, env, svc)}
		add(a)
		at = at.Add(3*time.Hour - 7*time.Minute)
	}
	op := targetDown
	op.Kind, op.Incident, op.At = history.KindOpening, "inc-td-1", op.At.Add(time.Second)
	op.Evidence = &triaged.Enrichment{Changes: []triaged.Change{{Service: "payments-api", Version: "v2.4.1", Time: op.At.Add(-4 * time.Minute), MinutesBefore: 4}}}
	return append(recs, op)
}

func fillHistory(t testing.TB, js jetstream.JetStream, prefix string, recs []history.Record) {
	t.Helper()
	names := broker.MustNames(prefix)
	if _, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions()); err != nil {
		t.Fatal(err)
	}
	if err := history.Append(context.Background(), js, names, recs...); err != nil {
		t.Fatal(err)
	}
}

var (
	sinceStamp = regexp.MustCompile(`since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|"since": "[^"]+"`)
	rateStamp  = regexp.MustCompile(`records, [\d,]+/s`)
)

// normalize makes a transcript independent of the server's address, the time of the run and
// the machine's speed.
func normalize(s, url string) string {
	if url != "" {
		s = strings.ReplaceAll(s, url, "nats://nats.test:4222")
	}
	s = sinceStamp.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, `"`) {
			return `"since": "2026-11-24T12:00:00Z"`
		}
		return "since 2026-11-24T12:00:00Z"
	})
	return rateStamp.ReplaceAllString(s, "records, 1,000/s")
}

func runTranscript(args []string, url string) (string, int) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return normalize(fmt.Sprintf("$ triagetool %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String()), url), code
}

// TestBacktestCLI backtests the candidate against the baseline over the known mix on a real
// JetStream server, and compares exit codes and output with golden files.
func TestBacktestCLI(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	base, err := rules.LoadFiles(btBaseline)
	if err != nil {
		t.Fatal(err)
	}
	fillHistory(t, js, "triaged", backtestHistory(t, base.Version()))
	url := ns.ClientURL()
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"backtest-text", []string{"backtest", "--rules", btCandidate, "--baseline", btBaseline, "--nats.url", url}, exitFailure},
		{"backtest-json", []string{"backtest", "--rules", btCandidate, "--baseline", btBaseline, "--nats.url", url, "--output", "json"}, exitFailure},
		{"backtest-progress", []string{"backtest", "--rules", btCandidate, "--baseline", btBaseline, "--nats.url", url, "--progress", "--examples", "1", "--incidents-listed", "2", "--max-keys", "2"}, exitFailure},
		{"backtest-unchanged", []string{"backtest", "--rules", btBaseline, "--baseline", btBaseline, "--nats.url", url, "--since", "1w"}, exitOK},
		{"backtest-builtin-not-in-force", []string{"backtest", "--rules", btCandidate, "--nats.url", url}, exitUsage},
		{"backtest-bad-rules", []string{"backtest", "--rules", "testdata/bad.rules.yml", "--baseline", btBaseline, "--nats.url", url}, exitUsage},
		{"backtest-no-rules", []string{"backtest", "--nats.url", url}, exitUsage},
		{"backtest-bad-since", []string{"backtest", "--rules", btCandidate, "--since", "a week", "--nats.url", url}, exitUsage},
		{"backtest-no-history", []string{"backtest", "--rules", btCandidate, "--nats.url", url, "--nats.prefix", "other"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, code := runTranscript(tc.args, url)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			golden.Check(t, filepath.Join("testdata", "golden", tc.name+".golden"), []byte(got))
		})
	}
}

// TestBacktestMatrix asserts the exact result of the known mix, worked out by hand from the
// rule files, independent of the golden files' wording.
func TestBacktestMatrix(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	base, err := rules.LoadFiles(btBaseline)
	if err != nil {
		t.Fatal(err)
	}
	fillHistory(t, js, "triaged", backtestHistory(t, base.Version()))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"backtest", "--rules", btCandidate, "--baseline", btBaseline, "--nats.url", ns.ClientURL(), "--output", "json"}, &stdout, &stderr); code != exitFailure {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res backtest.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	// 45 alerts: 8 critical HighLatency in prod stay P2 under another rule; 9 TargetDown and 8
	// critical HighLatency in staging go from P2 to P3; 10 DiskSpaceLow from P3 to P2; 4 warning
	// HighLatency in prod stay P3 by default, 4 in staging under the staging rule; AlwaysFiring is
	// dropped; FlappingHalfMinute stays P4.
	wantMatrix := []backtest.Transition{
		{From: "P2", To: "P2", Count: 8}, {From: "P2", To: "P3", Count: 17},
		{From: "P3", To: "P2", Count: 10}, {From: "P3", To: "P3", Count: 8}, {From: "P3", To: "dropped", Count: 1},
		{From: "P4", To: "P4", Count: 1},
	}
	if !reflect.DeepEqual(res.Classification, wantMatrix) {
		t.Errorf("classification matrix %v\nwant %v", res.Classification, wantMatrix)
	}
	// The TargetDown opening: P2 raised to P1 by the deploy; now P3 raised to P2.
	if want := []backtest.Transition{{From: "P1", To: "P2", Count: 1}}; !reflect.DeepEqual(res.Escalation, want) {
		t.Errorf("escalation matrix %v, want %v", res.Escalation, want)
	}
	if res.Alerts != 45 || res.Openings != 1 || res.Changed != 29 || res.RuleChanged != 12 {
		t.Errorf("alerts %d, openings %d, changed %d, rule changed %d", res.Alerts, res.Openings, res.Changed, res.RuleChanged)
	}
	// Incidents: AlwaysFiring P3→dropped, DiskSpaceLow P3→P2 (a page added), TargetDown P1→P2,
	// HighLatency in staging for checkout and for search P2→P3 (two pages removed).
	inc := res.Incidents
	if inc.Changed != 5 || inc.PagesAdded != 1 || inc.PagesRemoved != 2 {
		t.Errorf("incidents %+v", inc)
	}
	byName := map[string]backtest.KeyChanges{}
	for _, k := range res.Alertnames {
		byName[k.Name] = k
	}
	td := byName["TargetDown"]
	wantRules := []backtest.RuleChange{
		{Before: "critical", After: "staging", Count: 9},
		{Before: "critical > recent-deploy", After: "staging > recent-deploy", Count: 1},
	}
	if td.Changed != 10 || !reflect.DeepEqual(td.Rules, wantRules) {
		t.Errorf("TargetDown: %+v", td)
	}
	// The examples are the earliest three, in order: the three alerts of firing-3-alerts.json.
	var fps []string
	for _, e := range td.Examples {
		fps = append(fps, e.Fingerprint+" "+e.From+"→"+e.To)
	}
	if want := []string{"23fbc39944672fa6 P2→P3", "98856ee18a2874fd P2→P3", "87b3990482c7b9c0 P2→P3"}; !reflect.DeepEqual(fps, want) {
		t.Errorf("TargetDown examples %v, want %v", fps, want)
	}
	hl := byName["HighLatency"]
	if hl.Changed != 8 || hl.RuleChanged != 12 {
		t.Errorf("HighLatency: %+v", hl)
	}
}

// TestBacktestBuiltinInForce: without --baseline, the built-in rules are the baseline when the
// history says they were in force.
func TestBacktestBuiltinInForce(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	fillHistory(t, js, "triaged", backtestHistory(t, rules.Default().Version()))
	var stdout, stderr bytes.Buffer
	code := run([]string{"backtest", "--rules", btCandidate, "--nats.url", ns.ClientURL()}, &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stdout.String(), "Baseline:  default.rules.yml (embedded: the rules in force), version "+rules.Default().Version()) {
		t.Errorf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestBacktestStoragePath reads a stopped daemon's store through an embedded server, and refuses
// a store a running daemon holds.
func TestBacktestStoragePath(t *testing.T) {
	// The daemon keeps its embedded server's store under nats/ of its --storage.path.
	dir := t.TempDir()
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := broker.ConnectEmbedded(ns, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	base, err := rules.LoadFiles(btBaseline)
	if err != nil {
		t.Fatal(err)
	}
	fillHistory(t, js, "triaged", backtestHistory(t, base.Version()))
	nc.Close()
	ns.Shutdown()
	ns.WaitForShutdown()

	args := []string{"backtest", "--rules", btCandidate, "--baseline", btBaseline, "--storage.path", dir}
	got, code := runTranscript(args, "")
	if code != exitFailure || !strings.Contains(got, "backtested 45 alerts and 1 incident openings from 2026-11-26 to 2026-11-29") {
		t.Errorf("exit %d\n%s", code, got)
	}
	release, err := broker.LockStore(filepath.Join(dir, "nats"))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	got, code = runTranscript(args, "")
	got = strings.ReplaceAll(got, dir, "/var/lib/triaged")
	if code != exitUsage {
		t.Errorf("exit %d on a locked store", code)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "backtest-storage-locked.golden"), []byte(got))

	got, code = runTranscript([]string{"backtest", "--rules", btCandidate, "--storage.path", filepath.Join(dir, "nope")}, "")
	got = strings.ReplaceAll(got, dir, "/var/lib/triaged")
	if code != exitUsage {
		t.Errorf("exit %d on a missing store", code)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "backtest-storage-missing.golden"), []byte(got))
}

// TestREADMEBacktestSample holds the README's excerpt of backtest's output to the golden file
// of the same run: every line it shows, the tool prints.
func TestREADMEBacktestSample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const fence = "```console\n$ triagetool backtest "
	i := bytes.Index(readme, []byte(fence))
	if i < 0 {
		t.Fatal("README.md has no console block starting with $ triagetool backtest")
	}
	block, _, ok := strings.Cut(string(readme[i+len("```console\n"):]), "```")
	if !ok {
		t.Fatal("README.md: the triagetool backtest block is not closed")
	}
	out, err := os.ReadFile("testdata/golden/backtest-text.golden")
	if err != nil {
		t.Fatal(err)
	}
	printed := strings.ReplaceAll(string(out), "testdata/backtest/", "")
	for _, line := range strings.Split(strings.TrimSpace(block), "\n")[1:] {
		if line == "..." {
			continue
		}
		// A line cut short in the README ends in "…".
		if cut, ok := strings.CutSuffix(line, "…"); ok {
			line = cut
		}
		if !strings.Contains(printed, line) {
			t.Errorf("README.md's backtest sample shows a line the tool does not print:\n%s", line)
		}
	}
}
