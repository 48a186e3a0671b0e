package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/noise/noisetest"
)

// noiseBegin is when the generated history starts; the window ends at noiseEnd.
var noiseBegin = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

const noiseEnd = "--time=2026-11-30T12:00:00Z"

// publishHistory creates the daemon's topology on js and publishes reps to the reports stream as
// the triage worker does.
func publishHistory(t *testing.T, js jetstream.JetStream, reps []*triaged.Report) {
	t.Helper()
	ctx := context.Background()
	names := broker.MustNames("triaged")
	if _, err := broker.Ensure(ctx, js, names, broker.DefaultTopologyOptions()); err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		data, err := triaged.EncodeReport(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: names.ReportSubject(r.Event, r.Severity), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
}

// runGolden runs triagetool with args ({url} and {dir} filled in) and compares the transcript
// with testdata/golden/NAME.golden, the URL and directory written as placeholders.
func runGolden(t *testing.T, name string, args []string, url, dir string) {
	t.Helper()
	filled := make([]string, len(args))
	for i, a := range args {
		filled[i] = strings.NewReplacer("{url}", url, "{dir}", dir).Replace(a)
	}
	var stdout, stderr bytes.Buffer
	code := run(filled, &stdout, &stderr)
	got := fmt.Sprintf("$ triagetool %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	if url != "" {
		got = strings.ReplaceAll(got, url, "nats://nats.test:4222")
	}
	if dir != "" {
		got = strings.ReplaceAll(got, dir, "/var/lib/triaged")
	}
	golden.Check(t, filepath.Join("testdata", "golden", name+".golden"), []byte(got))
}

// TestNoiseCLI is the proof at the command line: on a month of history with one
// flapping alert, one that always resolves within a minute and one quiet one, the noise report
// ranks them in that order, with their suggestions, as a table, JSON and CSV.
func TestNoiseCLI(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	publishHistory(t, js, noisetest.ThreeAlerts(noiseBegin))
	url := ns.ClientURL()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"noise-table", []string{"noise", "--nats.url", "{url}", "--since", "30d", noiseEnd}},
		{"noise-json", []string{"noise", "--nats.url={url}", noiseEnd, "--output", "json"}},
		{"noise-csv", []string{"noise", "--nats.url={url}", noiseEnd, "--output=csv"}},
		{"noise-top", []string{"noise", "--nats.url={url}", noiseEnd, "--top", "1", "--progress"}},
		// The bound on reports read: the oldest 10 are read, and the output says the rest were not.
		{"noise-max-reports", []string{"noise", "--nats.url={url}", noiseEnd, "--max-reports", "10", "--progress"}},
		// A window after the history: nothing to rank.
		{"noise-empty-window", []string{"noise", "--nats.url={url}", "--time=2027-06-01T00:00:00Z", "--since", "1w"}},
		// A window before the history: its oldest report does not move the window's start.
		{"noise-before-history", []string{"noise", "--nats.url={url}", "--time=2026-10-15T00:00:00Z", "--since", "2w"}},
		{"noise-other-prefix", []string{"noise", "--nats.url={url}", "--nats.prefix", "other", noiseEnd}},
		{"noise-bad-since", []string{"noise", "--since", "a month"}},
		{"noise-bad-output", []string{"noise", "--output", "yaml"}},
		{"noise-two-sources", []string{"noise", "--nats.url", "{url}", "--storage.path", "/var/lib/triaged"}},
		{"noise-bad-max-reports", []string{"noise", "--max-reports", "0"}},
		{"noise-extra-arg", []string{"noise", "KafkaConsumerLag"}},
	} {
		t.Run(tc.name, func(t *testing.T) { runGolden(t, tc.name, tc.args, url, "") })
	}
}

// TestNoiseStoragePath reads the history of a stopped daemon from its storage directory, and is
// refused while a daemon holds the directory's lock.
func TestNoiseStoragePath(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "nats") // where the daemon keeps its embedded server's store
	release, err := broker.LockStore(store)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: store})
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
	publishHistory(t, js, noisetest.ThreeAlerts(noiseBegin))
	nc.Close()
	ns.Shutdown()
	ns.WaitForShutdown()

	// The daemon is stopped, but still holds the lock: refused.
	runGolden(t, "noise-storage-locked", []string{"noise", "--storage.path", "{dir}", noiseEnd}, "", dir)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	runGolden(t, "noise-storage", []string{"noise", "--storage.path", "{dir}", noiseEnd}, "", dir)
	runGolden(t, "noise-storage-none", []string{"noise", "--storage.path", "{dir}/elsewhere", noiseEnd}, "", dir)

	// The lock was given back: a daemon can start on the store again.
	again, err := broker.LockStore(store)
	if err != nil {
		t.Fatalf("after triagetool noise: %v", err)
	}
	again()
}

// TestREADMENoiseSample runs the `triagetool noise` command the README shows on the generated
// history and compares its output with the sample printed under it.
func TestREADMENoiseSample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const fence = "```console\n"
	i := bytes.Index(readme, []byte(fence+"$ triagetool noise "))
	if i < 0 {
		t.Fatal("README.md has no console block starting with $ triagetool noise")
	}
	block, _, ok := strings.Cut(string(readme[i+len(fence):]), "```")
	if !ok {
		t.Fatal("README.md: the triagetool noise block is not closed")
	}
	cmdLine, want, _ := strings.Cut(block, "\n")
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	publishHistory(t, js, noisetest.ThreeAlerts(noiseBegin))
	args := append(strings.Fields(strings.TrimPrefix(cmdLine, "$ triagetool ")), "--nats.url", ns.ClientURL(), noiseEnd)
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("triagetool %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	if got := stdout.String(); got != want {
		t.Errorf("README.md's sample of %s differs from the output (-README +output):\n%s", cmdLine, golden.Diff(want, got))
	}
}

// TestNoiseReadsEveryBatch reads a history longer than one fetch, with a message on the reports
// subjects that is not a report, which is counted and skipped.
func TestNoiseReadsEveryBatch(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	var h noisetest.History
	for i := range 600 { // 1,200 reports: three fetches
		start := noiseBegin.Add(time.Duration(i) * time.Hour)
		h.Open(noisetest.Brief, start).Resolve(start.Add(10 * time.Second))
	}
	publishHistory(t, js, h.Reports())
	if _, err := js.Publish(context.Background(), "triaged.reports.opened.P1", []byte("not a report")); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"noise", "--nats.url", ns.ClientURL(), noiseEnd, "--output", "csv"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := "triagetool noise: 1200 reports of 600 incidents from TRIAGED_REPORTS, 2026-11-01T00:00:00Z to 2026-11-30T12:00:00Z; 1 alertname, 1 rule, 1 service ranked; 1 message was not a report, skipped\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant\n%s", stderr.String(), want)
	}
	if !strings.Contains(stdout.String(), "alertname,ProbeFailed,") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}
