package app_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/natscluster"
	"github.com/triaged/triaged/internal/testkit"
)

// TestClusterPartition freezes one NATS node (SIGSTOP: its connections stay open and nothing on
// them is answered, as in a partition that drops packets) while webhooks keep coming, one new
// group each, to random replicas. Replica i is given node i's URL (it learns the others from the
// cluster), so replica 2 is on the frozen node and replicas 0 and 1 are not.
//
// While the node is frozen, /-/ready follows what each replica can do, as an operator wants, so
// that a load balancer sends webhooks only where they can be stored: 503 on replica 2, whose node
// answers nothing (the stream look-ups readiness makes time out), until its client, missing
// pings, gives the node up and moves to another one, where it is ready again; 200 on the others
// once the cluster has elected leaders for what the frozen node led. Every webhook is answered
// 200 or 503 (or not at all, in time): one answered 200 is never sent again, so its group must be
// opened however the cluster fared; the others are sent again once the node is back, as
// Alertmanager does. Afterwards every replica is ready, every group opened exactly once with all
// its alerts, every report printed once, and nothing is in the dead letters.
//
// The partition lasts the 30 s, or longer if the cluster takes longer to show those
// states (leader elections take 4–9 s in nats-server; a frozen node is given up after 10–15 s);
// for what is left of the 30 s once they are seen, webhooks must still be accepted.
func TestClusterPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a nats-server cluster")
	}
	const frozen = 2
	c := natscluster.Start(t)
	cfg := configFile(t, clusterConfig())
	logs := &testkit.SyncBuffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var replicas []*running
	for i := range natscluster.Size {
		replicas = append(replicas, start(t, app.Options{NATSURL: c.URL(i), ConfigFile: cfg, Logger: logger.With("replica", i)}))
	}
	for i, r := range replicas {
		if got, want := r.app.Conn().ConnectedServerName(), fmt.Sprintf("n%d", i); got != want {
			t.Fatalf("replica %d is connected to %s, want %s", i, got, want)
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := &partitionSender{replicas: replicas, now: now, client: &http.Client{Timeout: 5 * time.Second}}

	for s.accepted() < 5 {
		s.sendNew(t)
	}
	c.Stop(frozen)
	stopped := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			s.sendNew(t)
			time.Sleep(50 * time.Millisecond)
		}
	})
	before := s.accepted()
	probe := &http.Client{Timeout: 5 * time.Second}
	testkit.Eventually(t, 30*time.Second, "the replica on the frozen node not ready", func() bool {
		return readyCode(probe, replicas[frozen]) == http.StatusServiceUnavailable
	})
	for i, r := range replicas {
		if i != frozen {
			testkit.Eventually(t, 30*time.Second, fmt.Sprintf("replica %d ready with node n%d frozen", i, frozen), func() bool {
				return readyCode(probe, r) == http.StatusOK
			})
		}
	}
	testkit.Eventually(t, 30*time.Second, "webhooks accepted with the node frozen", func() bool {
		return s.accepted() >= before+5
	})
	// Its client gives the frozen node up after missing pings and moves to another node, where
	// it is ready again while the node is still frozen.
	testkit.Eventually(t, 60*time.Second, fmt.Sprintf("replica %d on another node and ready with node n%d frozen", frozen, frozen), func() bool {
		on := replicas[frozen].app.Conn().ConnectedServerName()
		return on != "" && on != fmt.Sprintf("n%d", frozen) && readyCode(probe, replicas[frozen]) == http.StatusOK
	})
	t.Logf("replica %d moved to node %s %s after node n%d froze", frozen, replicas[frozen].app.Conn().ConnectedServerName(), time.Since(stopped).Round(time.Millisecond), frozen)
	if rest := partitionFor - time.Since(stopped); rest > 0 {
		settled := s.accepted()
		time.Sleep(rest)
		if s.accepted() == settled {
			t.Errorf("no webhook accepted in the last %s of the partition, after the cluster had settled", rest.Round(time.Second))
		}
	}
	close(done)
	wg.Wait()
	c.Continue(frozen)
	t.Logf("node n%d frozen for %s", frozen, time.Since(stopped).Round(time.Millisecond))
	for i, r := range replicas {
		testkit.Eventually(t, 30*time.Second, fmt.Sprintf("replica %d ready after the node came back", i), func() bool {
			return readyCode(probe, r) == http.StatusOK
		})
	}
	for range 5 {
		s.sendNew(t)
	}
	refused := s.refusedGroups()
	t.Logf("%d groups: %d accepted at once, %d refused or unanswered (%v)", s.groups(), s.accepted(), len(refused), s.codes())
	for _, g := range refused {
		testkit.Eventually(t, 30*time.Second, fmt.Sprintf("group %d accepted", g), func() bool {
			code, err := s.post(g)
			return err == nil && code == http.StatusOK
		})
	}
	size := storm{groups: s.groups(), alerts: partitionAlerts, notifications: 1}
	waitOpened(t, replicas[0], size.groups)
	clusterSettled(t, replicas[0])
	// The replica on the frozen node may print a report and then be unable to record it or to
	// ack it (both go through that node) until its client gives the node up: the report is
	// redelivered to another replica, and a stdout sink cannot look up what was printed. So,
	// as for a killed process, one more print of what it printed is allowed and counted.
	printers := printedBy(replicas, nil)
	printers[frozen].killed = true
	checkStorm(t, replicas[0], printers, size, logs.String())
}

// partitionFor is how long TestClusterPartition keeps the node frozen at least: the 30 s.
const partitionFor = 30 * time.Second

// partitionAlerts is the number of alerts of each group TestClusterPartition sends.
const partitionAlerts = 3

// partitionSender sends one new group per webhook to a random replica and remembers the groups
// not accepted.
type partitionSender struct {
	replicas []*running
	now      time.Time
	client   *http.Client

	mu       sync.Mutex
	next     int
	ok       int
	refused  []int
	statuses map[string]int
}

func (s *partitionSender) post(g int) (int, error) {
	r := s.replicas[rand.IntN(len(s.replicas))]
	resp, err := s.client.Post(r.url+"/api/v1/alerts", "application/json", bytes.NewReader(stormWebhook(g, partitionAlerts, s.now)))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sendNew sends the next group once: 200 and 503 are what a webhook may get, no answer in time
// is a 503 for Alertmanager (it sends again), anything else fails the test.
func (s *partitionSender) sendNew(t *testing.T) {
	s.mu.Lock()
	g := s.next
	s.next++
	s.mu.Unlock()
	code, err := s.post(g)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statuses == nil {
		s.statuses = map[string]int{}
	}
	switch {
	case err != nil:
		s.statuses["no answer"]++
		s.refused = append(s.refused, g)
	case code == http.StatusOK:
		s.statuses["200"]++
		s.ok++
	case code == http.StatusServiceUnavailable:
		s.statuses["503"]++
		s.refused = append(s.refused, g)
	default:
		t.Errorf("group %d: status %d, want 200 or 503", g, code)
		s.refused = append(s.refused, g)
	}
}

func (s *partitionSender) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ok
}

func (s *partitionSender) groups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

func (s *partitionSender) refusedGroups() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.refused...)
}

func (s *partitionSender) codes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.statuses {
		out[k] = v
	}
	return out
}

// readyCode is r's /-/ready status, 0 when it does not answer in time.
func readyCode(probe *http.Client, r *running) int {
	resp, err := probe.Get(r.url + "/-/ready")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
