package app_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/natscluster"
	"github.com/triaged/triaged/internal/testkit"
)

// TestClusterPartition freezes one NATS node (SIGSTOP: its connections stay open and nothing on
// them is answered) for a while as webhooks keep coming, one new group each, to random replicas.
// A webhook answered 200 is never sent again, so its group must be opened however the cluster
// fared; one answered otherwise (503, or no answer in time) is sent again once the node is back,
// as Alertmanager does. Afterwards every group opened exactly once with all its alerts, every
// report printed once, and nothing is in the dead letters.
//
// Unfinished: it runs only with TRIAGED_CLUSTER_PARTITION=1, because after the freeze the test's
// own reading of the reports stream (readReports, an ordered consumer on replica 0's
// connection) sometimes fetches nothing ("read 0 of the 21 reports on the stream"); the cause
// is not yet known. Readiness during the freeze is not checked yet.
func TestClusterPartition(t *testing.T) {
	if testing.Short() || os.Getenv("TRIAGED_CLUSTER_PARTITION") == "" {
		t.Skip("unfinished; set TRIAGED_CLUSTER_PARTITION=1 to run it")
	}
	const frozen = 8 * time.Second // the 30 s, scaled down to keep the test short
	c := natscluster.Start(t)
	cfg := configFile(t, clusterConfig())
	logs := &testkit.SyncBuffer{}
	var replicas []*running
	for range 3 {
		logger := slog.New(slog.NewTextHandler(io.Writer(logs), &slog.HandlerOptions{Level: slog.LevelWarn}))
		replicas = append(replicas, start(t, app.Options{NATSURL: c.URLs(), ConfigFile: cfg, Logger: logger}))
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	size := storm{alerts: 3, notifications: 1}
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(g int) (int, error) {
		r := replicas[rand.IntN(len(replicas))]
		resp, err := client.Post(r.url+"/api/v1/alerts", "application/json", bytes.NewReader(stormWebhook(g, size.alerts, now)))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var refused []int
	accepted := 0
	send := func(until time.Time) {
		for time.Now().Before(until) {
			g := size.groups
			size.groups++
			code, err := post(g)
			switch {
			case err == nil && code == http.StatusOK:
				accepted++
			case err == nil && code != http.StatusServiceUnavailable:
				t.Errorf("group %d: status %d, want 200 or 503", g, code)
			default:
				refused = append(refused, g)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	send(time.Now().Add(time.Second))
	c.Stop(2)
	send(time.Now().Add(frozen))
	c.Continue(2)
	send(time.Now().Add(time.Second))
	t.Logf("%d groups: %d accepted at once, %d refused or unanswered with a node frozen for %s", size.groups, accepted, len(refused), frozen)
	for _, g := range refused {
		testkit.Eventually(t, 30*time.Second, fmt.Sprintf("group %d accepted", g), func() bool {
			code, err := post(g)
			return err == nil && code == http.StatusOK
		})
	}
	testkit.Eventually(t, 60*time.Second, fmt.Sprintf("%d opened reports", size.groups), func() bool {
		return reportsOnStream(t, replicas[0])[triaged.EventOpened] >= size.groups
	})
	clusterSettled(t, replicas[0])
	checkStorm(t, replicas[0], printedBy(replicas, nil), size, logs.String())
}
