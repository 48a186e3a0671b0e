package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/internal/natstest"
)

// TestDeadLettersCLI lists and replays dead letters on a real JetStream server set up as the
// daemon sets it up, and compares exit codes and output with golden files. {url} is the server.
func TestDeadLettersCLI(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	topo, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions())
	if err != nil {
		t.Fatal(err)
	}
	dead := func(origin, reason, errText, data string) {
		h := nats.Header{}
		h.Set(broker.HeaderOriginStream, names.AlertsStream())
		h.Set(broker.HeaderOriginSubject, origin)
		h.Set(broker.HeaderOriginConsumer, names.TriageConsumer())
		h.Set(broker.HeaderReason, reason)
		h.Set(broker.HeaderError, errText)
		if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: names.DeadLetterSubject(names.TriageConsumer()), Header: h, Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	url := ns.ClientURL()
	steps := []struct {
		name string
		args []string
		pre  func()
	}{
		{"dead-letters-list-empty", []string{"dead-letters", "list", "--nats.url", "{url}"}, nil},
		{"dead-letters-list", []string{"dead-letters", "list", "--nats.url={url}"}, func() {
			dead(names.AlertSubject("firing"), broker.ReasonUndecodable, "alerts[0].startsAt: 0000-01-01T00:30:00+01:00 is outside years 0001–9999 in UTC", `{"alerts":[]}`)
			dead(names.AlertSubject("resolved"), broker.ReasonExhausted, "store incident: "+strings.Repeat("timeout ", 20), `{"group":{}}`)
			dead("elsewhere.subject", broker.ReasonPanic, "handler panicked: boom", `x`)
		}},
		{"dead-letters-replay", []string{"dead-letters", "replay", "--nats.url", "{url}", "1"}, nil},
		{"dead-letters-list-after-replay", []string{"dead-letters", "list", "--nats.url", "{url}"}, nil},
		{"dead-letters-replay-again", []string{"dead-letters", "replay", "--nats.url", "{url}", "1"}, nil},
		{"dead-letters-replay-foreign", []string{"dead-letters", "replay", "--nats.url", "{url}", "3"}, nil},
		{"dead-letters-replay-bad-id", []string{"dead-letters", "replay", "--nats.url", "{url}", "first"}, nil},
		{"dead-letters-replay-no-id", []string{"dead-letters", "replay", "--nats.url", "{url}"}, nil},
		{"dead-letters-other-prefix", []string{"dead-letters", "list", "--nats.url", "{url}", "--nats.prefix", "other"}, nil},
		{"dead-letters-nothing", []string{"dead-letters"}, nil},
	}
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	for _, st := range steps {
		if st.pre != nil {
			st.pre()
		}
		args := make([]string, len(st.args))
		for i, a := range st.args {
			args[i] = strings.ReplaceAll(a, "{url}", url)
		}
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		got := fmt.Sprintf("$ triagetool %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(st.args, " "), code, stdout.String(), stderr.String())
		got = strings.ReplaceAll(got, url, "nats://nats.test:4222")
		got = stamp.ReplaceAllString(got, "2026-12-01T12:00:00Z")
		golden.Check(t, filepath.Join("testdata", "golden", st.name+".golden"), []byte(got))
	}
	// The replayed payload is back on the alerts stream, under its own subject, for triage.
	m, err := topo.Alerts.GetLastMsgForSubject(context.Background(), names.AlertSubject("firing"))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != `{"alerts":[]}` {
		t.Errorf("replayed %q", m.Data)
	}
}
