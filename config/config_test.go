package config_test

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/config"
)

func TestGoodFiles(t *testing.T) {
	c, err := config.LoadFile("testdata/full.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Rules.Files[0], filepath.Join("testdata", "rules", "team.rules.yml"); got != want {
		t.Errorf("rule file %q, want %q resolved against the config's directory", got, want)
	}
	if got, want := c.Sinks[1].Path, filepath.Join("testdata", "reports", "reports.jsonl"); got != want {
		t.Errorf("sink path %q, want %q", got, want)
	}
	if c.NATS.AlertsMaxAge.String() != "1d" || c.Location().String() != "Europe/Berlin" {
		t.Errorf("alerts_max_age %s, timezone %s", c.NATS.AlertsMaxAge, c.Location())
	}
	if got := c.RetryBackoff(); len(got) != 3 || got[2] != 30*time.Second {
		t.Errorf("retry backoff %v", got)
	}
	if len(c.Services) != 2 || len(c.Services[0].Probes) != 3 || len(c.Services[0].Logs) != 2 {
		t.Fatalf("services not decoded: %d services", len(c.Services)) // load.File compiles them
	}
	if got, want := c.Services[0].Logs[0].File.Path, filepath.Join("testdata", "logs", "checkout.log"); got != want {
		t.Errorf("log file %q, want %q resolved against the config's directory", got, want)
	}
	if got, want := c.Enrichment.RunbookDirs[0], filepath.Join("testdata", "runbooks"); got != want {
		t.Errorf("runbook dir %q, want %q", got, want)
	}

	e, err := config.LoadFile("testdata/empty.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	d := config.Default()
	if e.Triage.Workers != d.Triage.Workers || len(e.Sinks) != 1 || e.Sinks[0].Type != "stdout" {
		t.Errorf("an empty file should give the defaults, got %+v", e)
	}
}

func TestBadFilesNameTheKeyAndPosition(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown-key.bad.yml", []string{
			`testdata/unknown-key.bad.yml:3:3: nats.replica: unknown key (known keys: alerts_max_age, alerts_max_bytes, creds_file, deadletters_max_age, deadletters_max_bytes, deliveries_max_bytes, deploys_max_bytes, duplicate_window, embedded_listen_address, embedded_sync_always, embedded_sync_interval, embedded_token_file, graphs_max_age, graphs_max_bytes, history_max_age, history_max_bytes, incidents_max_age, incidents_max_bytes, nkey_seed_file, prefix, replicas, reports_max_age, reports_max_bytes, tls_config)`,
			`testdata/unknown-key.bad.yml:6:3: triage.wrkers: unknown key`,
		}},
		{"bad-values.bad.yml", []string{
			`testdata/bad-values.bad.yml:2:11: nats.prefix: "tri aged" is not a valid prefix`,
			`testdata/bad-values.bad.yml:3:13: nats.replicas: 0 is out of range 1..5`,
			`testdata/bad-values.bad.yml:5:12: triage.workers: 0 is out of range 1..4096`,
			`testdata/bad-values.bad.yml:6:12: triage.timeout: 1m must be shorter than triage.ack_wait 30s`,
			`testdata/bad-values.bad.yml:9:13: rules.timezone: unknown time zone "Mars/Olympus"`,
			`testdata/bad-values.bad.yml:13:11: sinks[1].name: "stdout" is already the name of sinks[0]`,
			`testdata/bad-values.bad.yml:19:19: enrichment.suspect_window: 3h is longer than enrichment.deploy_window 2h`,
			// The sink kinds and the services are judged by load.File, which is tested on this
			// file too: ../load/load_test.go.
		}},
		{"bad-duration.bad.yml", []string{
			`testdata/bad-duration.bad.yml:2:13: triage.ack_wait: "soon" is not a duration`,
			`testdata/bad-duration.bad.yml:7:44: services[0].probes[0].tcp.timeout: "soonish" is not a duration`,
		}},
		{"not-a-map.bad.yml", []string{`testdata/not-a-map.bad.yml:1: cannot unmarshal !!seq into config.Config`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := config.LoadFile(filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatal("loaded without error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `loading "testdata/`+tt.file+`": `) {
				t.Errorf("error does not start by naming the file: %s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			// Problems are listed in the order a reader meets them in the file.
			last := 0
			for _, m := range regexp.MustCompile(`(?m)^\s*testdata/[^:]+:(\d+):`).FindAllStringSubmatch(msg, -1) {
				line, _ := strconv.Atoi(m[1])
				if line < last {
					t.Errorf("line %d listed after line %d:\n%s", line, last, msg)
				}
				last = line
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := config.LoadFile("testdata/nope.yml")
	if err == nil || !strings.Contains(err.Error(), `loading "testdata/nope.yml": open testdata/nope.yml: no such file or directory`) {
		t.Fatalf("got %v", err)
	}
}

// A dead letter must be kept a while, and a failing message delivered at least once.
func TestDeadLetterBoundsAreChecked(t *testing.T) {
	_, err := config.Load([]byte("nats:\n  deadletters_max_age: 0s\ntriage:\n  max_deliveries: 0\n"), "dl.yml")
	if err == nil {
		t.Fatal("loaded without error")
	}
	for _, w := range []string{
		"dl.yml:2:24: nats.deadletters_max_age: must be a positive duration, got 0s",
		"dl.yml:4:19: triage.max_deliveries: 0 is out of range 1..10000",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
